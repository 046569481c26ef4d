"""`deployhook worker` stops within its stated time on SIGTERM and loses no acknowledged push."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue

from config import Settings
from jobs.state.locks import EnvironmentLock, LockOwner
from jobs.state.records import DeployStore
from jobs.state.submit import DeployRequest, Submitted, submit
from jobs.worker.start import STOP_SECONDS
from tests.operations.conftest import Repo
from tests.support.deploying import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(config_file: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`deployhook worker` (not burst) for the test's configuration; killed if still running."""
    argv = [sys.executable, "-m", "webhook.cli", "worker", "--config", str(config_file)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(tmp_path / "worker.log", "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, env=env, cwd=ROOT)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def _stopped_within_bound(process: subprocess.Popen[bytes], log: Path) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {STOP_SECONDS:.0f}s after SIGTERM") from None
    assert code == 0, log.read_text()[-3000:]
    return time.monotonic() - started


def _ready(connection: redis.Redis) -> bool:
    """RQ marks a worker idle only inside its loop, after its signal handlers are installed."""
    states = [connection.hget(key, "state") for key in connection.keys("rq:worker:*")]
    return b"idle" in states


def test_an_idle_worker_stops_on_sigterm(
    worker: subprocess.Popen[bytes], redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """An idle worker exits cleanly on SIGTERM, well within STOP_SECONDS."""
    wait_for(lambda: _ready(redis_conn), 30, "the worker to register")
    _stopped_within_bound(worker, tmp_path / "worker.log")


def test_a_deploy_waiting_for_the_lock_is_queued_again_on_sigterm(
    worker: subprocess.Popen[bytes],
    redis_conn: redis.Redis,
    settings: Settings,
    repo: Repo,
    tmp_path: Path,
) -> None:
    """SIGTERM while a deploy waits for its lock: the worker exits, the deploy is queued again."""
    foreign = EnvironmentLock(redis_conn, "app/dev", LockOwner.for_deploy("other-deploy", "test"))
    foreign.acquire(1)
    try:
        request = DeployRequest("app", "dev", "branch", "main", repo.first, "test push")
        submitted = submit(redis_conn, settings, [request])
        assert isinstance(submitted, Submitted)
        deploy_id = submitted.deploys[0].id
        store = DeployStore(redis_conn)
        queue = Queue(settings.projects["app"].environments["dev"].queue, connection=redis_conn)
        wait_for(lambda: any("waiting" in line for line in store.log(deploy_id)), 60, "a wait")
        assert deploy_id not in queue.job_ids  # the worker holds it now
        _stopped_within_bound(worker, tmp_path / "worker.log")
    finally:
        foreign.release()
    record = store.get(deploy_id)
    assert (record.state, record.worker) == ("queued", None)
    assert deploy_id in queue.job_ids  # back on the queue: the next worker runs it
    assert any("queued again" in line for line in store.log(deploy_id))
