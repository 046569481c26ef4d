"""Rehearsal containers a dead worker left behind, found at the next worker start.

The deploy's own recovery removes those of a deploy it finds `running` (tests/drills/test_kill.py);
these are the rest: a deploy already over (its removal failed, or it lost its lock mid-rehearsal)
or whose record is gone (Redis lost it; kept a day, since another deployhook with its own Redis
may share the engine). Plain busybox containers stand in for the throwaway ones: only names and
labels matter here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config import Settings
from jobs.commands import rehearsal
from jobs.commands.rehearsal import Container
from jobs.runbook.recovery import (
    STRAY_LOG_KEEP_SECONDS,
    recover_interrupted,
    remove_stray_rehearsals,
)
from jobs.state import keys
from jobs.state.ids import new_deploy_id
from jobs.state.records import DeployStore
from tests.support.commands import run
from tests.support.deploying import config_for
from tests.support.docker_engine import Engine
from tests.support.status import make_deploy

pytestmark = pytest.mark.docker


@pytest.fixture
def started(docker_engine: Engine) -> Iterator[list[tuple[str, str]]]:
    """The (name, deploy id) of each container a test starts; all removed afterwards."""
    pairs: list[tuple[str, str]] = []
    yield pairs
    for name, _ in pairs:
        run(rehearsal.remove(name), env=docker_engine.env, check=False)


def _start(engine: Engine, image: str, tmp_path: Path, name: str, deploy_id: str) -> str:
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    container = Container(
        name=name, image=image, deploy_id=deploy_id, env_file=env_file, network="none",
        detach=True, entrypoint="", command=("sleep", "600"),
    )  # fmt: skip
    run(rehearsal.run(container), env=engine.env)
    return name


def _labelled(engine: Engine) -> set[str]:
    argv = ["docker", "ps", "--all", "--filter", f"label={rehearsal.LABEL}"]
    return set(run([*argv, "--format", "{{.Names}}"], env=engine.env).stdout.split())


def _settings(tmp_path: Path, redis_url: str) -> Settings:
    environment = {
        "path": str(tmp_path),
        "trigger": {"branch": "main"},
        "compose": {"files": ["docker-compose.yml"], "project": "strays"},
        "health": {"url": "http://127.0.0.1:9/"},
    }  # docker_host unset: the worker's own engine, the test engine (DOCKER_HOST)
    return Settings.model_validate(config_for(environment, tmp_path / "state", redis_url))


def test_worker_start_removes_rehearsal_containers_whose_deploy_is_over(
    docker_engine: Engine,
    busybox_image: str,
    redis_conn: redis.Redis,
    redis_url: str,
    tmp_path: Path,
    started: list[tuple[str, str]],
) -> None:
    """Worker start removes a finished deploy's throwaways; a running one's, a fresh stray stay."""
    store = DeployStore(redis_conn)
    finished, running = make_deploy(store, state="failed"), make_deploy(store, state="running")
    gone = new_deploy_id()
    cases = [
        (rehearsal.database_name(finished.id), finished.id),
        (rehearsal.migration_name(finished.id), finished.id),
        (rehearsal.database_name(running.id), running.id),
        (rehearsal.migration_name(gone), gone),
        ("someone-elses-container", finished.id),  # our label, not our name: never ours
    ]
    for name, deploy_id in cases:
        started.append((_start(docker_engine, busybox_image, tmp_path, name, deploy_id), deploy_id))
    settings = _settings(tmp_path, redis_url)
    assert recover_interrupted(settings, redis_conn, settings.queues()) == []
    assert _labelled(docker_engine) == {name for name, _ in cases[2:]}
    log = store.log(finished.id)
    assert sum("(its deploy ended failed)" in line for line in log) == 2, log
    # A day later the one whose record is gone goes too; the running deploy's still stays.
    removed = remove_stray_rehearsals(settings, redis_conn, settings.queues(), gone_after=0)
    assert removed == [rehearsal.migration_name(gone)]
    assert _labelled(docker_engine) == {cases[2][0], cases[4][0]}
    assert any("its deploy record is gone" in line for line in store.log(gone))
    assert 0 < redis_conn.ttl(keys.log(gone)) <= STRAY_LOG_KEEP_SECONDS  # no record to go with
