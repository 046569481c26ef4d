"""Webhook delivery counters in Redis, best-effort: counting never changes an answer."""

from __future__ import annotations

import logging

from jobs.state import Connection, RedisError, counters

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


def count_delivery(
    connection: Connection, provider: str, result: str, delivery_id: str = ""
) -> None:
    """HINCRBY `<provider>:<result>`; a Redis failure is logged and swallowed."""
    if result not in RESULTS:
        raise ValueError(f"unknown delivery result {result!r}; expected one of {sorted(RESULTS)}")
    try:
        counters.count_delivery(connection, provider, result)
    except RedisError as error:
        fields = {"delivery": delivery_id, "reason": type(error).__name__}
        log.warning("delivery not counted", extra={"fields": fields})
