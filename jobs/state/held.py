"""Deploys an operator lock holds: remembered per environment, queued again on unlock.

A deploy that finds an operator's lock stays `queued` and its id goes on the environment's
held list; the worker moves on. Unlocking queues every held deploy again, oldest first: the
newest runs and the older ones end `superseded` by the pipeline's newest-push-wins rule.

A deploy outside its environment's windows is held the same way, and the environment goes into
a sorted set with the time its next window opens, for the gates' waker (jobs/gates/waker.py).
"""

from __future__ import annotations

import time
from datetime import datetime

from redis import Redis

from config import Settings
from jobs.state import keys
from jobs.state.locks import current_owner
from jobs.state.records import DeployStore, RecordError
from jobs.state.redistext import as_text
from jobs.state.submit import enqueue

held_key = keys.held
WINDOW_WAKE_KEY = keys.WINDOW_WAKE


def held_ids(connection: Redis, target: str) -> list[str]:
    return [as_text(item) for item in connection.lrange(held_key(target), 0, -1)]


def hold(connection: Redis, target: str, deploy_id: str) -> bool:
    """Remember a deploy the operator lock holds; False when the lock went away meanwhile.

    Unlock deletes the lock, then takes the held list. Checking the lock again after adding
    ourselves closes the gap between "saw the lock" and "added to the list": if it is gone and
    we are still on the list, nobody will queue us again, so we take ourselves off and go on.
    """
    connection.rpush(held_key(target), deploy_id)
    holder = current_owner(connection, target)
    if holder is not None and holder.deploy_id is None:
        return True
    # Removed 0: unlock already took us and queued us again; that job will run us.
    return not connection.lrem(held_key(target), 0, deploy_id)


def release_held(connection: Redis, settings: Settings, target: str) -> list[str]:
    """Queue every held deploy of `target` again, oldest first; returns their ids."""
    with connection.pipeline(transaction=True) as pipe:
        pipe.lrange(held_key(target), 0, -1)
        pipe.delete(held_key(target))
        raw, _ = pipe.execute()
    store = DeployStore(connection)
    queued = []
    for deploy_id in dict.fromkeys(as_text(item) for item in raw):
        try:
            deploy = store.get(deploy_id)
        except RecordError:
            continue  # expired from the store: nothing left to run
        if deploy.state != "queued":
            continue
        environment = settings.environment(deploy.project, deploy.environment)
        enqueue(connection, environment.queue, deploy)
        queued.append(deploy_id)
    return queued


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


def take_opened_windows(connection: Redis, now: float | None = None) -> list[str]:
    """The targets whose window has opened, each taken by one caller only (of many wakers)."""
    due = connection.zrangebyscore(WINDOW_WAKE_KEY, "-inf", now or time.time())
    # ZREM answers 0 to every waker but the first: that one releases the held deploys.
    return [as_text(raw) for raw in due if connection.zrem(WINDOW_WAKE_KEY, as_text(raw))]
