"""A reporting lock held by a consumer killed on this host is broken at once by the next one;
a live holder's lock and another host's lock are never broken (they run out as before)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from jobs.report import drain
from jobs.state.holders import GONE, format_token, look, parse_token
from jobs.state.records import DeployStore
from jobs.state.reports import ReportingLock, lock_key
from tests.support.deploying import wait_for
from tests.support.provider_server import WEBHOOK, ProviderServer
from tests.support.report_setup import PREVIOUS, queue_deploy, settings_for

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import sys, redis
from jobs.state.reports import ReportingLock
assert ReportingLock(redis.Redis.from_url(sys.argv[1]), sys.argv[2], 600).acquire()
print("held", flush=True)
sys.stdin.read()  # hold until killed, or until the test's end closes our stdin
"""


@pytest.fixture
def holding(redis_url: str) -> Iterator[list[subprocess.Popen[str]]]:
    """Start consumers in processes of their own, each holding one deploy's reporting lock."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for child in started:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=10)


def _hold(holding: list[subprocess.Popen[str]], redis_url: str, deploy_id: str) -> int:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, redis_url, deploy_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    holding.append(child)
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    return child.pid


def _kill(holding: list[subprocess.Popen[str]], pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    next(child for child in holding if child.pid == pid).wait(timeout=10)


def test_a_killed_holders_lock_is_broken_at_once(
    redis_conn: redis.Redis, redis_url: str, holding: list[subprocess.Popen[str]]
) -> None:
    """SIGKILLed while it held the lock: the next consumer breaks it and takes the deploy."""
    pid = _hold(holding, redis_url, "d-killed")
    _kill(holding, pid)
    lock = ReportingLock(redis_conn, "d-killed", 600)
    assert not lock.acquire()
    dead = lock.break_if_holder_dead()
    assert dead is not None and dead.pid == pid
    assert lock.acquire()
    holder = parse_token(redis_conn.get(lock_key("d-killed")) or b"")
    assert holder is not None and holder.pid == os.getpid()


def test_a_killed_holder_not_yet_reaped_is_dead_too(
    redis_conn: redis.Redis, redis_url: str, holding: list[subprocess.Popen[str]]
) -> None:
    """A holder killed and left a zombie (its parent has not waited for it yet) holds nothing."""
    pid = _hold(holding, redis_url, "d-zombie")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: look(pid) == GONE, 10, "the killed holder to exit")
    assert Path(f"/proc/{pid}").exists()  # a zombie: still in the process table
    lock = ReportingLock(redis_conn, "d-zombie", 600)
    assert lock.break_if_holder_dead() is not None and lock.acquire()


def test_a_live_holders_lock_is_never_broken(
    redis_conn: redis.Redis, redis_url: str, holding: list[subprocess.Popen[str]]
) -> None:
    """A consumer that still runs keeps its lock, token and all."""
    _hold(holding, redis_url, "d-live")
    token = redis_conn.get(lock_key("d-live"))
    lock = ReportingLock(redis_conn, "d-live", 600)
    assert not lock.acquire()
    assert lock.break_if_holder_dead() is None
    assert not lock.acquire()
    assert redis_conn.get(lock_key("d-live")) == token


@pytest.mark.parametrize("other", ["name", "boot_id", "pid_namespace"])
def test_a_dead_pid_on_another_host_is_never_judged(
    redis_conn: redis.Redis,
    redis_url: str,
    holding: list[subprocess.Popen[str]],
    other: str,
) -> None:
    """The same pid, gone here, named by another host or container: the lock waits it out."""
    pid = _hold(holding, redis_url, "d-elsewhere")
    _kill(holding, pid)
    holder = parse_token(redis_conn.get(lock_key("d-elsewhere")) or b"")
    assert holder is not None and holder.host is not None
    elsewhere = replace(holder, host=replace(holder.host, **{other: "elsewhere"}))
    redis_conn.set(lock_key("d-elsewhere"), format_token(elsewhere), px=600_000)
    lock = ReportingLock(redis_conn, "d-elsewhere", 600)
    assert lock.break_if_holder_dead() is None
    assert not lock.acquire()
    assert redis_conn.pttl(lock_key("d-elsewhere")) > 500_000


def test_the_next_consumer_reports_what_a_killed_one_held_and_logs_the_break(
    redis_conn: redis.Redis,
    redis_url: str,
    holding: list[subprocess.Popen[str]],
    provider: ProviderServer,
    store: DeployStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A deploy whose reporting consumer was killed is reported in the next drain, not after
    the lock's timeout, and the break is logged with the deploy and the dead holder."""
    deploy = queue_deploy(store)
    store.transition(deploy, "running", previous_sha=PREVIOUS)
    store.transition(deploy, "succeeded")
    pid = _hold(holding, redis_url, deploy.id)
    _kill(holding, pid)
    with caplog.at_level(logging.WARNING, logger="deployhook.report"):
        drain(settings_for(provider), redis_conn, timeout=5)
    events = [s.body["event"] for s in provider.to(WEBHOOK) if s.body["deploy"]["id"] == deploy.id]
    assert events == ["succeeded"]
    (line,) = [
        r.getMessage() for r in caplog.records if "broke the reporting lock" in r.getMessage()
    ]
    assert line.startswith(f"deploy {deploy.id}: ") and f"pid {pid} on " in line, line
