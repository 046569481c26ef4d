"""Held for a window, or left by a dead worker mid-wait: queued again when the time comes.

Held for a window: park a deploy on the held list and queue it again when the window opens.

A deploy outside its environment's windows joins the environment's held list
(jobs/state/held.py, the list an operator lock uses) and the environment goes into a sorted
set with the time its next window opens. The worker runs `start_window_waker`: a thread
that, every WAKE_SECONDS, takes each environment whose time has come and queues its held
deploys again (`release_held`); the pipeline then checks the window again, and the newest
held push runs while older ones end superseded. An operator's `unlock` also queues them
again: they find the window still shut and go back on the list, so nothing is lost either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from config import Settings
from config.targets import split_target
from jobs.execution.periodic import start_periodic
from jobs.state import Connection
from jobs.state.held import release_held, take_opened_windows
from jobs.state.records import DeployStore
from jobs.state.submit import enqueue
from jobs.state.workers import worker_state

logger = logging.getLogger("deployhook.gates")
WAKE_SECONDS = 20.0


def wake_due(connection: Connection, settings: Settings, now: float | None = None) -> list[str]:
    """Queue again the held deploys of every environment whose window has opened."""
    queued: list[str] = []
    for target in take_opened_windows(connection, now):
        project, environment = split_target(target)
        if project in settings.projects and environment in settings.projects[project].environments:
            queued += release_held(connection, settings, target)
    return queued


def requeue_interrupted_waits(
    settings: Settings, connection: Connection, queues: list[str]
) -> list[str]:
    """Queue again deploys whose worker died (its heartbeat expired) while they waited at a gate.

    Run when a worker starts, beside the recovery of interrupted deploys: a deploy waiting for
    CI or for its deploy upstream holds no lock and is still `queued` (with `worker` naming the
    waiting process), so nothing else would ever run it again.
    """
    store = DeployStore(connection)
    queued: list[str] = []
    for project in settings.projects.values():
        for environment in project.environments.values():
            if environment.queue not in queues:
                continue
            for record in store.history(environment.target, limit=20):
                if record.state == "queued" and worker_state(connection, record.worker) == "dead":
                    record.worker = None
                    store.save(record)
                    enqueue(connection, environment.queue, record)
                    queued.append(record.id)
    return queued


def start_window_waker(
    settings: Settings, connection: Connection, every: float = WAKE_SECONDS
) -> Callable[[], None]:
    """Run `wake_due` every `every` seconds in a thread; returns the function that stops it."""

    def tick() -> None:
        woke = wake_due(connection, settings)
        if woke:
            logger.info("deploy window opened: queued again %s", ", ".join(woke))

    return start_periodic("deployhook-window-waker", every, tick, logger, first_wait=True)
