"""The environment lock: one holder, informative when held, reclaimed from dead workers."""

from __future__ import annotations

import subprocess
import sys

import pytest
import redis

from jobs.failures.errors import LockTimeout
from jobs.state.locks import EnvironmentLock, LockOwner, current_owner, lock_key


def test_second_deploy_waits_then_gives_up_naming_the_holder(redis_conn: redis.Redis) -> None:
    """While one deploy holds an environment, another cannot take it and is told who has it."""
    first = EnvironmentLock(redis_conn, "crm/dev", LockOwner.for_deploy("d-1", "deploy"))
    first.acquire(1)
    second = EnvironmentLock(redis_conn, "crm/dev", LockOwner.for_deploy("d-2", "deploy"))
    with pytest.raises(LockTimeout, match="locked by deploy d-1") as caught:
        second.acquire(0.6)
    assert "deployhook unlock crm/dev" in str(caught.value)
    first.release()
    second.acquire(1)
    assert current_owner(redis_conn, "crm/dev").deploy_id == "d-2"
    second.release()
    assert redis_conn.get(lock_key("crm/dev")) is None


def test_lock_of_a_dead_local_process_is_reclaimed(redis_conn: redis.Redis) -> None:
    """A lock whose owning process on this host is gone is taken over at once."""
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = LockOwner.for_deploy("d-dead", "deploy")
    dead = LockOwner(dead.deploy_id, dead.host, int(finished.stdout), dead.since, dead.reason)
    stale = EnvironmentLock(redis_conn, "crm/dev", dead, ttl=3600)
    stale.acquire(1)
    stale._stop.set()  # its process "died": no more renewals, no release
    taker = EnvironmentLock(redis_conn, "crm/dev", LockOwner.for_deploy("d-new", "deploy"))
    taker.acquire(1)
    assert current_owner(redis_conn, "crm/dev").deploy_id == "d-new"
    taker.release()


def test_release_never_frees_someone_elses_lock(redis_conn: redis.Redis) -> None:
    """Releasing after the lock changed hands leaves the new holder's lock in place."""
    mine = EnvironmentLock(redis_conn, "crm/dev", LockOwner.for_deploy("d-1", "deploy"), ttl=0.3)
    mine.acquire(1)
    mine._stop.set()
    redis_conn.delete(lock_key("crm/dev"))  # expired, as after a long pause
    other = EnvironmentLock(redis_conn, "crm/dev", LockOwner.for_deploy("d-2", "deploy"))
    other.acquire(1)
    mine.release()
    assert current_owner(redis_conn, "crm/dev").deploy_id == "d-2"
    other.release()


def test_lock_is_renewed_while_held(redis_conn: redis.Redis) -> None:
    """A held lock outlives its TTL because the holder keeps renewing it."""
    import time

    lock = EnvironmentLock(redis_conn, "crm/dev", LockOwner.for_deploy("d-1", "deploy"), ttl=0.6)
    lock.acquire(1)
    time.sleep(1.5)
    assert current_owner(redis_conn, "crm/dev") is not None
    assert not lock.lost
    lock.release()


def test_live_and_dead_local_owners_are_told_apart() -> None:
    """A lock's owner on this host is alive while its process runs and dead once it is gone."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    owner = LockOwner.for_deploy("d-1", "deploy")
    running = LockOwner(owner.deploy_id, owner.host, child.pid, owner.since, owner.reason)
    assert running.is_alive_local_process() and not running.is_dead_local_process()
    child.kill()
    child.wait()
    assert running.is_dead_local_process() and not running.is_alive_local_process()
    operator = LockOwner(None, owner.host, child.pid, owner.since, "maintenance")
    assert not operator.is_dead_local_process() and not operator.is_alive_local_process()
