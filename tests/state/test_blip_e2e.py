"""A Redis that stops answering for a few seconds during a build does not end a deploy.

Real engine, real Postgres, real git; the deploy's Redis is told `DEBUG SLEEP 3` over and over
from the moment the build starts until the swap has started, so the fence's checks before the
commands after the build meet a Redis that does not answer. The fence waits (the lock's TTL is
far from passed) and the deploy ends `succeeded`, serving the new version.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config import Settings
from jobs.state.records import DeployStore
from tests.support import drills
from tests.support.deploying import config_for, push, work
from tests.support.redis_server import socket_url, start_redis
from tests.support.sample_app import SampleApp

pytestmark = pytest.mark.docker
ROUNDS = 6  # at most 18 s of a Redis that does not answer, in 3 s naps


@pytest.fixture
def napping_redis(tmp_path: Path) -> Iterator[str]:
    """A private Redis that accepts DEBUG SLEEP from local clients."""
    directory = tmp_path / "napping"
    directory.mkdir()
    process = start_redis(directory, enable_debug=True)
    try:
        yield socket_url(directory)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _nap_through_the_build(url: str, deploy_id: str, naps: list[float]) -> None:
    watcher, sleeper = redis.Redis.from_url(url), redis.Redis.from_url(url)
    store = DeployStore(watcher)
    deadline = time.monotonic() + 600
    while drills.last_stage(store, deploy_id) != "build" and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(ROUNDS):
        if drills.last_stage(store, deploy_id) not in ("build", "swap"):
            break
        started = time.monotonic()
        sleeper.execute_command("DEBUG", "SLEEP", "3")
        naps.append(time.monotonic() - started)
        if drills.last_stage(store, deploy_id) == "swap":
            break


def test_a_redis_blip_during_the_build_does_not_end_the_deploy(
    sample_app: SampleApp, napping_redis: str, tmp_path: Path
) -> None:
    """DEBUG SLEEP 3 back to back from the build into the swap: the deploy still succeeds."""
    connection = redis.Redis.from_url(napping_redis)
    settings = Settings.model_validate(
        config_for(sample_app.environment_config(), tmp_path / "state", napping_redis)
    )
    queued = push(connection, settings, sample_app.good_change())
    naps: list[float] = []
    napper = threading.Thread(target=_nap_through_the_build, args=(napping_redis, queued.id, naps))
    napper.start()
    work(settings, connection)
    napper.join(timeout=120)
    record = DeployStore(connection).get(queued.id)
    assert naps and min(naps) > 2.5, naps  # Redis really did not answer, at least once
    assert record.state == "succeeded", record.error
    assert sample_app.running_version() == "2"
