"""Webhook delivery counters in Redis, best-effort: counting never changes an answer."""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError

from jobs.state.keys import DELIVERY_COUNTS
from jobs.state.redistext import as_text

DELIVERIES_KEY = DELIVERY_COUNTS
RESULTS = frozenset(
    {
        "accepted",
        "duplicate",
        "ignored",
        "unauthorized",
        "rejected",
        "too_large",
        "timeout",
        "unavailable",
        "error",
    }
)
log = logging.getLogger("deployhook.intake")


def count_delivery(connection: Redis, provider: str, result: str, delivery_id: str = "") -> None:
    """HINCRBY `<provider>:<result>`; a Redis failure is logged and swallowed."""
    if result not in RESULTS:
        raise ValueError(f"unknown delivery result {result!r}; expected one of {sorted(RESULTS)}")
    try:
        connection.hincrby(DELIVERIES_KEY, f"{provider}:{result}", 1)
    except RedisError as error:
        fields = {"delivery": delivery_id, "reason": type(error).__name__}
        log.warning("delivery not counted", extra={"fields": fields})


def delivery_counts(connection: Redis) -> dict[str, int]:
    raw = connection.hgetall(DELIVERIES_KEY)
    return {as_text(field): int(value) for field, value in raw.items()}
