"""The last /metrics answer, shared by every web process for a few seconds.

A scrape reads up to a thousand deploy records per environment; with the answer kept here,
any number of scrapes (several Prometheus servers, a dashboard, a retry storm) cost one such
read every few seconds instead of one each.
"""

from __future__ import annotations

from redis import Redis

from jobs.state.keys import METRICS_CACHE


def cached_metrics(connection: Redis) -> bytes | None:
    found = connection.get(METRICS_CACHE)
    return found if isinstance(found, bytes) else None


def keep_metrics(connection: Redis, text: bytes, seconds: float) -> None:
    connection.set(METRICS_CACHE, text, px=max(1, int(seconds * 1000)))
