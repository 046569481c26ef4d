"""Two deploy hosts, one intake queue store: real `deployhook worker --host` processes deploy
two sample app instances, the second on its own Docker engine reached through docker_host.

Host `a` runs on the session's engine (the workers' own DOCKER_HOST); host `b` is a second
private engine that only environment b's `docker_host` names, so a deploy of b that ignored it
would build and start on the wrong engine.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from config import Settings
from jobs.state.locks import current_owner
from jobs.state.records import Deploy, DeployStore
from jobs.state.submit import DeployRequest, Submitted, submit
from tests.support import drills, git_repo
from tests.support.deploying import config_for, wait_for
from tests.support.docker_engine import Engine, running_engine
from tests.support.failures import assert_cause
from tests.support.images import import_base_image
from tests.support.sample_app import SampleApp
from tests.support.web import DEPLOYHOOK, REPO_ROOT

pytestmark = pytest.mark.docker


@pytest.fixture
def second_app(
    docker_engine: Engine, compose_command: list[str], tmp_path: Path
) -> Iterator[SampleApp]:
    """A sample app instance on a second private engine, its own socket and data root."""
    with running_engine() as engine:
        base = import_base_image(engine.env)
        root = tmp_path / "b"
        root.mkdir()
        app = SampleApp.create(engine, compose_command, base, root)
        try:
            yield app
        finally:
            app.stop()


def _config(first: SampleApp, second: SampleApp, tmp_path: Path, redis_url: str) -> Path:
    on_b = {**second.environment_config(), "host": "b", "docker_host": second.engine.host}
    on_a = {**first.environment_config(), "host": "a"}
    config = config_for(on_a, tmp_path / "state", redis_url)
    config["projects"]["sample"]["environments"] = {"a": on_a, "b": on_b}
    path = tmp_path / "deployhook.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _push(conn: redis.Redis, settings: Settings, environment: str, sha: str) -> Deploy:
    request = DeployRequest("sample", environment, "branch", "main", sha, "test push")
    result = submit(conn, settings, [request])
    assert isinstance(result, Submitted)
    return result.deploys[0]


def _worker(config: Path, log: Path, host: str, *more: str) -> subprocess.Popen[bytes]:
    """`deployhook worker --host HOST` as its own process, as an operator starts it."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with log.open("ab") as output:
        return subprocess.Popen(
            [*DEPLOYHOOK, "worker", "--config", str(config), "--host", host, *more],
            stdout=output,
            stderr=output,
            env=env,
        )


def _overlap(one: Deploy, other: Deploy) -> bool:
    assert one.started_at and one.finished_at and other.started_at and other.finished_at
    return one.started_at < other.finished_at and other.started_at < one.finished_at


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)  # RQ's warm shutdown: finish the job in hand, then exit
    worker.wait(timeout=120)


def test_two_hosts_deploy_in_parallel_and_keep_their_own_queues(
    sample_app: SampleApp,
    second_app: SampleApp,
    redis_conn: redis.Redis,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """a and b deploy at once; a's next push waits for the lock; b's jobs wait for b's worker."""
    config = _config(sample_app, second_app, tmp_path, redis_url)
    settings = Settings.model_validate(yaml.safe_load(config.read_text()))
    logs = tmp_path
    # Two workers for host a (so either may take a's next job) and one for host b.
    workers = [_worker(config, logs / f"w{i}.log", host) for i, host in enumerate("aab")]
    try:
        _drive(sample_app, second_app, redis_conn, settings, config, workers, logs)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def _drive(
    sample_app: SampleApp,
    second_app: SampleApp,
    redis_conn: redis.Redis,
    settings: Settings,
    config: Path,
    workers: list[subprocess.Popen[bytes]],
    logs: Path,
) -> None:
    store = DeployStore(redis_conn)
    dockerfile = git_repo.read(sample_app.author, "Dockerfile")
    # a's next push must come while a1 holds the lock: it is pushed as soon as a1 builds, and
    # a1 still has its build, swap and health to go.
    slow_sha, _ = drills.slow_build(sample_app, seconds=5)
    a1 = _push(redis_conn, settings, "a", slow_sha)
    b1 = _push(redis_conn, settings, "b", second_app.good_change())
    wait_for(lambda: drills.last_stage(store, a1.id) == "build", 120, "a's slow build")
    a2_sha = sample_app.commit({"Dockerfile": dockerfile, "VERSION": "2\n"}, "Fast again")
    a2 = _push(redis_conn, settings, "a", a2_sha)
    wait_for(lambda: store.get(a2.id).state not in ("queued", "running"), 240, "a's second push")
    wait_for(lambda: store.get(b1.id).state != "running", 120, "b's deploy")
    first, second, other = store.get(a1.id), store.get(a2.id), store.get(b1.id)
    assert (first.state, second.state, other.state) == ("succeeded",) * 3, second.error
    assert _overlap(first, other)  # a and b deployed at the same time
    assert any(f"waiting: deploy {a1.id}" in line for line in store.log(a2.id))
    assert second.started_at and first.finished_at and second.started_at > first.finished_at
    assert sample_app.checked_out() == a2_sha and second_app.running_version() == "2"
    assert second_app.image_ids()["api"] == second_app.image_of(f"{second_app.project}-api")
    assert sample_app.image_of(f"{second_app.project}-api") is None  # b never built on a

    # b's worker dies mid-deploy; a worker for host a neither recovers nor takes b's jobs.
    b2_sha, word = drills.slow_build(second_app)
    b2 = _push(redis_conn, settings, "b", b2_sha)
    wait_for(lambda: drills.build_step_running(word), 120, "b's slow build")
    workers[2].send_signal(signal.SIGKILL)
    workers[2].wait()
    drills.heartbeat_runs_out(store, b2.id)  # as its 30 s would (tests/drills/test_kill.py)
    b3_sha = second_app.commit({"Dockerfile": dockerfile, "NOTE": "third\n"}, "Fast again")
    b3 = _push(redis_conn, settings, "b", b3_sha)
    for worker in workers[:2]:
        _stop(worker)
    burst_a = _worker(config, logs / "wa.log", "a", "--burst")
    assert burst_a.wait(timeout=120) == 0, (logs / "wa.log").read_text()[-2000:]
    assert (store.get(b2.id).state, store.get(b3.id).state) == ("running", "queued")
    burst_b = _worker(config, logs / "wb.log", "b", "--burst")
    assert burst_b.wait(timeout=300) == 0, (logs / "wb.log").read_text()[-2000:]
    assert store.get(b2.id).state == "reverted", store.get(b2.id).error
    assert_cause(store.get(b2.id), "the worker stopped during build")
    assert store.get(b3.id).state == "succeeded", store.get(b3.id).error
    assert second_app.checked_out() == b3_sha
    assert current_owner(redis_conn, "sample/a") is None
    assert current_owner(redis_conn, "sample/b") is None
