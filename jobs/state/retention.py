"""Bounded Redis: deploys older than the history retention, or beyond its count, go whole.

`history.keep_days` and `history.keep_deploys` (config) bound what deployhook keeps: a
finished deploy's keys (record, log, events, commands, reporting notes) expire `keep_days`
after it ends (DeployStore.transition), and `prune` removes, per environment, every finished
deploy past the newest `keep_deploys` or older than `keep_days`: all of its keys and its
entries in both history indexes at once, so trimming leaves no orphans. A deploy that has not
finished, and an environment's last good deploy, are never removed. The worker prunes when it
starts and then every PRUNE_EVERY seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from redis import Redis

from jobs.execution.periodic import start_periodic
from jobs.state import keys
from jobs.state.lastgood import parse_last_good
from jobs.state.records import FINAL_STATES, Deploy, RecordError
from jobs.state.redistext import as_text

PRUNE_EVERY = 3600.0
logger = logging.getLogger("deployhook.worker")
DAY = 24 * 3600


def prune(
    connection: Redis,
    targets: Iterable[str],
    keep_deploys: int,
    keep_days: int,
    now: float | None = None,
) -> list[str]:
    """Remove the deploys past the retention in these environments; return their ids."""
    cutoff = (time.time() if now is None else now) - keep_days * DAY
    removed: list[str] = []
    targets = list(targets)
    for target in targets:
        index = keys.history(target)
        beyond = connection.zrange(index, 0, -(keep_deploys + 1))
        old = connection.zrangebyscore(index, "-inf", cutoff)
        keep = _last_good_id(connection, target)
        for deploy_id in sorted({as_text(i) for i in [*beyond, *old]} - {keep}):
            removed += _remove_if_finished(connection, deploy_id, target)
    # Deploys of environments no longer configured: only the global index lists them.
    for raw in connection.zrangebyscore(keys.history(), "-inf", cutoff):
        removed += _remove_if_finished(connection, as_text(raw), None, spare=targets)
    return removed


def _remove_if_finished(
    connection: Redis, deploy_id: str, target: str | None, spare: Iterable[str] = ()
) -> list[str]:
    """Delete the deploy's keys and index entries unless it is still queued or running (or
    belongs to a target in `spare`, which its own environment's pass decided on)."""
    raw = connection.get(keys.deploy(deploy_id))
    if raw is not None:
        try:
            record = Deploy.from_json(raw)
        except RecordError:
            record = None  # unreadable: debris
        if record is not None:
            if record.state not in FINAL_STATES or record.target in spare:
                return []
            target = record.target
    pipe = connection.pipeline(transaction=True)
    pipe.delete(*keys.deploy_keys(deploy_id))
    pipe.zrem(keys.history(), deploy_id)
    if target is not None:
        pipe.zrem(keys.history(target), deploy_id)
    pipe.execute()
    return [deploy_id]


def _last_good_id(connection: Redis, target: str) -> str | None:
    found = parse_last_good(connection.get(keys.last_good(target)))
    return found.deploy_id if found is not None else None


def start_pruning(connection: Redis, targets: list[str], keep_deploys: int, keep_days: int) -> Any:
    """Prune now and every PRUNE_EVERY seconds on a thread; returns the function that stops it."""
    return start_periodic(
        "deployhook-retention",
        PRUNE_EVERY,
        lambda: _pruned(prune(connection, targets, keep_deploys, keep_days)),
        logger,
    )


def _pruned(removed: list[str]) -> None:
    if removed:
        logger.info("history retention removed %d deploy(s)", len(removed))
