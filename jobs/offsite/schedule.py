"""The worker's off-site schedule: restore drills (`drill_every`) and retention
(`retention_every`) of the environments its queues serve.

One thread looks every minute; a run is due when its slot in Redis has expired, and the slot
is claimed atomically, so several workers never drill the same environment twice in a period.
A drill takes no lock (it changes nothing), so deploys go on beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from config import Settings
from jobs.execution.periodic import start_periodic
from jobs.offsite.action import unlocked_context
from jobs.offsite.drill import verify_backups
from jobs.offsite.retention import forget_old_copies
from jobs.state import Connection
from jobs.state.drills import due

log = logging.getLogger("deployhook.offsite")
LOOK_EVERY_SECONDS = 60.0


def scheduled(settings: Settings, queues: list[str]) -> list[tuple[str, str, float]]:
    """(kind, target, every) for each scheduled run of the environments on these queues."""
    found = []
    for environment in settings.every_environment():
        offsite = environment.backups.offsite
        if offsite is None or environment.queue not in queues:
            continue
        if offsite.drill_every:
            found.append(("drill", environment.target, offsite.drill_every))
        if offsite.retention_every:
            found.append(("retention", environment.target, offsite.retention_every))
    return found


def run_due(settings: Settings, connection: Connection, queues: list[str]) -> None:
    for kind, target, every in scheduled(settings, queues):
        if not due(connection, kind, target, every):
            continue
        if kind == "drill":
            result = verify_backups(settings, connection, target)
            log.info("scheduled restore drill of %s: %s", target, result.summary())
        else:
            ctx = unlocked_context(settings, connection, target, "offsite retention")
            try:
                forget_old_copies(ctx)
            finally:
                ctx.close()


def start_offsite_schedule(
    settings: Settings, connection: Connection, queues: list[str]
) -> Callable[[], None]:
    if not scheduled(settings, queues):
        return lambda: None
    return start_periodic(
        "offsite-schedule",
        LOOK_EVERY_SECONDS,
        lambda: run_due(settings, connection, queues),
        log,
        first_wait=True,
    )
