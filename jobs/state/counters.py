"""Counters that /metrics reports: webhook deliveries by provider and what the intake did."""

from __future__ import annotations

from redis import Redis

from jobs.state.keys import DELIVERY_COUNTS
from jobs.state.redistext import as_text


def count_delivery(connection: Redis, provider: str, result: str) -> None:
    """One more delivery from `provider` that the intake answered with `result`."""
    connection.hincrby(DELIVERY_COUNTS, f"{provider}:{result}", 1)


def delivery_counts(connection: Redis) -> dict[str, int]:
    """`<provider>:<result>` -> deliveries counted; a count that is not a number is left out."""
    counts = {
        as_text(field): as_text(value)
        for field, value in connection.hgetall(DELIVERY_COUNTS).items()
    }
    return {field: int(count) for field, count in counts.items() if count.isdigit()}
