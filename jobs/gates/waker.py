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
import time
from collections.abc import Callable
from datetime import datetime

from redis import Redis

from config import Settings
from jobs.execution.periodic import start_periodic
from jobs.gates.keys import WINDOW_WAKE_KEY
from jobs.state.held import held_key, release_held
from jobs.state.records import DeployStore
from jobs.state.redistext import as_text
from jobs.state.submit import enqueue
from jobs.state.workers import worker_state

logger = logging.getLogger("deployhook.gates")
WAKE_SECONDS = 20.0


def hold_for_window(connection: Redis, target: str, deploy_id: str, opens: datetime) -> None:
    """Put `deploy_id` on `target`'s held list and remember when to queue it again."""
    with connection.pipeline(transaction=True) as pipe:
        pipe.rpush(held_key(target), deploy_id)
        pipe.zadd(WINDOW_WAKE_KEY, {target: opens.timestamp()})
        pipe.execute()


def window_wakeups(connection: Redis) -> dict[str, float]:
    """target -> when its held deploys are queued again (Unix time), for pages and the CLI."""
    pairs = connection.zrange(WINDOW_WAKE_KEY, 0, -1, withscores=True)
    return {as_text(pair[0]): float(pair[1]) for pair in pairs}


def wake_due(connection: Redis, settings: Settings, now: float | None = None) -> list[str]:
    """Queue again the held deploys of every environment whose window has opened."""
    due = connection.zrangebyscore(WINDOW_WAKE_KEY, "-inf", now or time.time())
    queued: list[str] = []
    for raw in due:
        target = as_text(raw)
        if not connection.zrem(WINDOW_WAKE_KEY, target):
            continue  # another worker's waker took it first
        project, environment = target.split("/", 1)
        if project in settings.projects and environment in settings.projects[project].environments:
            queued += release_held(connection, settings, target)
    return queued


def requeue_interrupted_waits(
    settings: Settings, connection: Redis, queues: list[str]
) -> list[str]:
    """Queue again deploys whose worker died (its heartbeat expired) while they waited at a gate.

    Run when a worker starts, beside the recovery of interrupted deploys: a deploy waiting for
    CI or for its deploy upstream holds no lock and is still `queued` (with `worker` naming the
    waiting process), so nothing else would ever run it again.
    """
    store = DeployStore(connection)
    queued: list[str] = []
    for project_name, project in settings.projects.items():
        for env_name, environment in project.environments.items():
            if environment.queue not in queues:
                continue
            for record in store.history(f"{project_name}/{env_name}", limit=20):
                if record.state == "queued" and worker_state(connection, record.worker) == "dead":
                    record.worker = None
                    store.save(record)
                    enqueue(connection, environment.queue, record)
                    queued.append(record.id)
    return queued


def start_window_waker(
    settings: Settings, connection: Redis, every: float = WAKE_SECONDS
) -> Callable[[], None]:
    """Run `wake_due` every `every` seconds in a thread; returns the function that stops it."""

    def tick() -> None:
        woke = wake_due(connection, settings)
        if woke:
            logger.info("deploy window opened: queued again %s", ", ".join(woke))

    return start_periodic("deployhook-window-waker", every, tick, logger, first_wait=True)
