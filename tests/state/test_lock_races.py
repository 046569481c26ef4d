"""The environment lock under bad timing, on a real Redis: never stolen, never silently lost.

Each "deploy" here is an EnvironmentLock plus a fenced Runner running real commands; the
runner's recorded command history (wall-clock start and duration) proves that at most one
deploy ran a changing command at any moment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from config import load_settings
from jobs.execution.deploylog import DeployLog
from jobs.execution.runner import Runner
from jobs.failures.errors import LockLost, LockTimeout
from jobs.runbook.recovery import recover
from jobs.state import keys
from jobs.state.locks import (
    FENCE_MARGIN,
    FENCE_TIMEOUT,
    EnvironmentLock,
    LockOwner,
    current_owner,
    fence_connection,
)
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from tests.support.redis_server import socket_url, start_redis

TARGET = "crm/dev"
SHORT = [sys.executable, "-c", "import time; time.sleep(0.2)"]


@dataclass
class Worker:
    """One deploy's lock and fenced runner."""

    id: str
    lock: EnvironmentLock
    runner: Runner

    def change(self) -> None:
        self.runner.run(SHORT, timeout=30)


def worker(connection: redis.Redis, owner: LockOwner | None = None, ttl: float = 30) -> Worker:
    deploy_id = new_deploy_id()
    owner = owner or LockOwner.for_deploy(deploy_id, "deploy")
    lock = EnvironmentLock(connection, TARGET, owner, ttl=ttl)
    return Worker(
        deploy_id, lock, Runner(DeployLog(DeployStore(connection), deploy_id), None, lock.check)
    )


def changing_intervals(connection: redis.Redis, *workers: Worker) -> list[tuple[float, float, str]]:
    store = DeployStore(connection)
    spans = []
    for each in workers:
        for command in store.commands(each.id):
            if not command["read_only"]:
                spans.append(
                    (command["started"], command["started"] + command["duration"], each.id)
                )
    return sorted(spans)


def assert_never_overlapping(spans: list[tuple[float, float, str]]) -> None:
    for index, (start, end, first) in enumerate(spans):
        for other_start, other_end, second in spans[index + 1 :]:
            overlap = start < other_end and other_start < end
            assert first == second or not overlap, f"{first} and {second} changed at once"


@pytest.fixture
def dead_owner() -> Iterator[LockOwner]:
    """The description of a deploy on this host whose process has exited."""
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    owner = LockOwner.for_deploy("d-20260101-000000-000-0123456789abcdef", "deploy")
    yield LockOwner(owner.deploy_id, owner.host, int(finished.stdout), owner.since, owner.reason)


def test_reclaim_never_deletes_a_live_holder_that_came_in_between(
    redis_conn: redis.Redis, dead_owner: LockOwner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live worker that takes the lock between the reclaimer's read and its delete keeps it."""
    stale = EnvironmentLock(redis_conn, TARGET, dead_owner, ttl=3600)
    stale.acquire(1)
    stale._stop.set()  # its process died: no renewals, no release
    live, reclaimer = worker(redis_conn), worker(redis_conn)
    judged = LockOwner.is_dead_local_process

    def live_takes_over_meanwhile(owner: LockOwner) -> bool:
        # Runs after the reclaimer read the dead value and before it deletes it: the dead
        # lock expires and the live worker takes the environment in that very gap.
        if owner == dead_owner and current_owner(redis_conn, TARGET) == dead_owner:
            redis_conn.delete(keys.lock(TARGET))
            live.lock.acquire(1)
        return judged(owner)

    monkeypatch.setattr(LockOwner, "is_dead_local_process", live_takes_over_meanwhile)
    with pytest.raises(LockTimeout, match=f"locked by deploy {live.id}"):
        reclaimer.lock.acquire(0.6)
    assert current_owner(redis_conn, TARGET) == live.lock.owner
    live.change()  # still fenced in: the live worker holds its lock
    with pytest.raises(LockLost, match=f"now held by deploy {live.id}"):
        reclaimer.change()
    live.lock.release()
    assert_never_overlapping(changing_intervals(redis_conn, live, reclaimer))


def test_a_dead_holder_is_reclaimed_by_exactly_one_of_two_racing_workers(
    redis_conn: redis.Redis, dead_owner: LockOwner
) -> None:
    """Two workers reclaiming the same dead lock: one gets it, the other waits for it."""
    stale = EnvironmentLock(redis_conn, TARGET, dead_owner, ttl=3600)
    stale.acquire(1)
    stale._stop.set()
    first, second = worker(redis_conn), worker(redis_conn)
    first.lock.acquire(1)
    with pytest.raises(LockTimeout, match=f"locked by deploy {first.id}"):
        second.lock.acquire(0.6)
    first.change()
    first.lock.release()
    second.lock.acquire(1)
    second.change()
    second.lock.release()
    assert_never_overlapping(changing_intervals(redis_conn, first, second))


def test_a_deploy_whose_lock_vanished_stops_before_its_next_change(
    redis_conn: redis.Redis,
) -> None:
    """Lock deleted mid-deploy (Redis lost it): the next changing command raises LockLost."""
    first, second = worker(redis_conn), worker(redis_conn)
    first.lock.acquire(1)
    first.change()
    redis_conn.delete(keys.lock(TARGET))  # a Redis restarted without the key, or a long stall
    second.lock.acquire(1)
    second.change()
    with pytest.raises(LockLost, match=f"now held by deploy {second.id}"):
        first.change()
    first.runner.run([sys.executable, "-c", "pass"], timeout=30, read_only=True)  # reads may go
    second.change()
    first.lock.release()  # must not free the second deploy's lock
    assert current_owner(redis_conn, TARGET) == second.lock.owner
    second.lock.release()
    assert [c["read_only"] for c in DeployStore(redis_conn).commands(first.id)] == [False, True]
    assert_never_overlapping(changing_intervals(redis_conn, first, second))


def test_an_expired_lock_is_noticed_by_the_renewer_and_the_fence(redis_conn: redis.Redis) -> None:
    """A renewer that finds the lock gone marks it lost; the fence then refuses, naming nobody."""
    stalled = worker(redis_conn, ttl=0.6)
    stalled.lock.acquire(1)
    redis_conn.delete(keys.lock(TARGET))
    stalled.lock._renewer.join(timeout=5)  # type: ignore[union-attr]
    assert stalled.lock.lost
    with pytest.raises(LockLost, match="now held by nobody"):
        stalled.change()
    assert DeployStore(redis_conn).commands(stalled.id) == []


def test_fence_refuses_when_redis_cannot_be_asked(redis_url: str) -> None:
    """With Redis unreachable until the lock could have expired, the fence cannot prove
    ownership, so nothing changing runs; it gives up before the TTL is past, not at once."""
    connection = redis.Redis.from_url(redis_url)
    connection.flushall()
    lock = EnvironmentLock(connection, TARGET, LockOwner.for_deploy("d-x", "deploy"), ttl=4)
    lock.acquire(1)
    lock._stop.set()
    broken = fence_connection(redis.Redis(host="127.0.0.1", port=1))
    lock._fence_lock.redis = broken  # the same lock, asked over a connection that fails
    started = time.monotonic()
    with pytest.raises(LockLost, match="unknown: Redis could not be asked"):
        lock.check()
    assert 1.0 < time.monotonic() - started < 4 - FENCE_MARGIN + FENCE_TIMEOUT
    connection.flushall()


def test_fence_rides_out_a_blip(tmp_path: Path) -> None:
    """A Redis that does not answer for 3 s (DEBUG SLEEP) is waited for: the fence passes once
    it answers, well within the lock's TTL, and the lock is still held by its deploy."""
    process = start_redis(tmp_path, enable_debug=True)
    try:
        connection = redis.Redis.from_url(socket_url(tmp_path))
        lock = EnvironmentLock(connection, TARGET, LockOwner.for_deploy("d-x", "deploy"), ttl=30)
        lock.acquire(1)
        sleeper = threading.Thread(target=lambda: redis.Redis.from_url(socket_url(tmp_path))
                                   .execute_command("DEBUG", "SLEEP", "3"))  # fmt: skip
        sleeper.start()
        time.sleep(0.3)
        started = time.monotonic()
        lock.check()
        assert time.monotonic() - started > 2
        sleeper.join()
        assert current_owner(connection, TARGET) == lock.owner
        lock.release()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_recovery_leaves_a_live_worker_that_lost_its_lock_alone(
    redis_conn: redis.Redis, example_config_path: Path
) -> None:
    """A running deploy whose lock vanished but whose worker lives is not 'recovered' by another."""
    settings = load_settings(example_config_path, {"CRM_WEBHOOK_SECRET": "s3cret-for-the-tests"})
    store = DeployStore(redis_conn)
    record = Deploy(new_deploy_id(), "crm", "dev", "branch", "main", "a" * 40, "test push")
    store.create(record)
    store.transition(record, "running", worker=f"{socket.gethostname()}:{os.getpid()}")
    recover(record, settings, redis_conn)  # no lock key: it looks abandoned, yet its pid lives
    assert store.get(record.id).state == "running"
    assert current_owner(redis_conn, TARGET) is None


def test_guard_fences_a_change_that_is_not_a_command(redis_conn: redis.Redis) -> None:
    """Runner.guard (used before writing last-good) refuses once the lock is gone."""
    holder = worker(redis_conn)
    holder.lock.acquire(1)
    holder.runner.guard()
    redis_conn.delete(keys.lock(TARGET))
    with pytest.raises(LockLost, match="now held by nobody"):
        holder.runner.guard()
    holder.lock.release()
