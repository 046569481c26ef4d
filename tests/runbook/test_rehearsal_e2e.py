"""The migration rehearsal and the worker's "no downgrade" check, on a real engine and Postgres.

One sample app serves the whole module (each deploy costs a build), and Redis is shared across
the module's tests, in file order: the failed rehearsal first, then a passing one that deploys,
then stale webhooks against that live commit and a manual rollback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.commands import rehearsal
from jobs.commands.rehearsal import Container
from jobs.operations.queueing import queue_rollback, rollback_plan
from jobs.state.records import Deploy, DeployStore
from jobs.state.submit import DeployRequest, Submitted, submit
from tests.support import git_repo, sample_scenarios
from tests.support.commands import run
from tests.support.deploying import config_for, deploy, work
from tests.support.docker_engine import Engine
from tests.support.failures import assert_cause
from tests.support.sample_app import SampleApp

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def app(module_sample_app: SampleApp) -> SampleApp:
    return module_sample_app


@pytest.fixture(scope="module")
def connection(redis_url: str) -> Iterator[redis.Redis]:
    """Redis kept across this module's tests (history and last good carry over)."""
    connection = redis.Redis.from_url(redis_url)
    connection.flushall()
    yield connection
    connection.flushall()
    connection.close()


@pytest.fixture(scope="module")
def settings(app: SampleApp, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    environment = app.environment_config()
    # slow_after tiny: every rehearsal here is "slow", so the report of it is exercised too.
    environment["migrate"]["rehearse"] = {"slow_after": 0.01, "ready_timeout": 60}
    state = tmp_path_factory.mktemp("rehearsal-state")
    return Settings.model_validate(config_for(environment, state, redis_url))


def _docker(app: SampleApp, *args: str) -> str:
    return run(["docker", *args], env=app.engine.env).stdout.strip()


def _production(app: SampleApp) -> dict[str, Any]:
    """Everything a failed rehearsal must leave as it was."""
    return {
        "dump": app.dump(),
        "containers": app.container_ids(),
        "images": app.image_ids(),
        "head": app.checked_out(),
        "volumes": _docker(app, "volume", "ls", "--quiet"),
    }


def _leftovers(app: SampleApp) -> str:
    return _docker(app, "ps", "--all", "--quiet", "--filter", "label=deployhook.rehearsal")


def _drop_failing_migrations(app: SampleApp) -> None:
    """Take a failing migration an earlier test pushed off main, as its developer would."""
    names = git_repo.list_files(app.author, sample_scenarios.MIGRATIONS)
    failing = [name for name in names if "half_done" in name]
    if failing:
        app.commit(dict.fromkeys(failing), "Drop the failing migration")


def _webhook(connection: redis.Redis, settings: Settings, sha: str) -> Deploy:
    """Queue a deploy as a webhook would, past the intake (a web tier on another host)."""
    request = DeployRequest("sample", "dev", "branch", "main", sha, "github push", "delivery-1")
    result = submit(connection, settings, [request])
    assert isinstance(result, Submitted)
    work(settings, connection)
    return DeployStore(connection).get(result.deploys[0].id)


def test_failed_rehearsal_leaves_production_untouched(
    app: SampleApp, settings: Settings, connection: redis.Redis
) -> None:
    """A migration failing on the copy ends `failed`: same dump, containers, images and HEAD."""
    before = _production(app)
    record = deploy(settings, connection, app.failing_migration())
    assert record.state == "failed", record.error
    assert record.failed_stage == "rehearse", record.error
    assert "nothing was changed" in (record.error or "")
    assert "migration failed midway on purpose" in (record.error or "")
    assert_cause(record, "RuntimeError: migration failed midway on purpose")
    assert [s.name for s in record.stages if s.name in ("swap", "migrate")] == []
    assert _production(app) == before
    assert app.running_version() == "1"
    assert _leftovers(app) == ""
    commands = [" ".join(c["argv"]) for c in DeployStore(connection).commands(record.id)]
    rehearsal_runs = [c for c in commands if c.startswith("docker run")]
    assert rehearsal_runs and all("--publish" not in c and " -v " not in c for c in rehearsal_runs)
    assert all("--network none" in c or "--network container:" in c for c in rehearsal_runs)


def test_passing_rehearsal_then_deploys(
    app: SampleApp, settings: Settings, connection: redis.Redis
) -> None:
    """A migration that passes on the copy is timed, reported when slow, and then deployed."""
    _drop_failing_migrations(app)
    sha = app.good_change()
    record = deploy(settings, connection, sha)
    assert record.state == "succeeded", record.error
    names = [stage.name for stage in record.stages]
    assert names.index("build") < names.index("rehearse") < names.index("swap")
    assert record.rehearsal_seconds is not None and record.rehearsal_seconds > 0
    assert record.rehearsal_slow is True
    assert any("rehearsal SLOW" in line for line in DeployStore(connection).log(record.id))
    assert app.running_version() == "2"
    assert app.checked_out() == sha
    assert _leftovers(app) == ""


def test_stale_webhooks_change_nothing_and_rollback_still_works(
    app: SampleApp, settings: Settings, connection: redis.Redis
) -> None:
    """Past the intake, the worker ends older/live webhooks `superseded`; a rollback still runs."""
    live = app.checked_out()
    if live == app.v1:  # run alone: make something newer than v1 live first
        live = app.good_change()
        assert deploy(settings, connection, live).state == "succeeded"
    before = _production(app)
    older = _webhook(connection, settings, app.v1)
    assert older.state == "superseded", older.error
    assert older.error == f"older than the live commit {live[:12]}; use deployhook rollback"
    again = _webhook(connection, settings, live)
    assert (again.state, again.error) == ("superseded", "already live")
    assert [stage.name for stage in again.stages] == ["snapshot", "fetch"]
    assert _production(app) == before
    newer = app.commit({"NOTES.txt": "a change without a migration\n"}, "Notes")
    assert deploy(settings, connection, newer).state == "succeeded"
    plan = rollback_plan(connection, settings, "sample/dev", None)
    assert plan.target.sha == live
    queued = queue_rollback(connection, settings, plan, restore=False, sender="tester")
    work(settings, connection)
    rolled_back = DeployStore(connection).get(queued.id)
    assert rolled_back.state == "succeeded", rolled_back.error
    assert app.checked_out() == live
    assert Path(app.checkout, ".env").exists()


def test_migration_container_reaches_the_throwaway_by_service_name(
    docker_engine: Engine, busybox_image: str, tmp_path: Path
) -> None:
    """The contract: in the throwaway's namespace the database service's name is loopback."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    deploy_id = "d-20261127-160000-0c0c0c"
    database = Container(
        name=f"dht-contract-{deploy_id}", image=busybox_image, deploy_id=deploy_id,
        env_file=env_file, network="none", detach=True, add_hosts=("postgres:127.0.0.1",),
        command=("httpd", "-f", "-p", "127.0.0.1:5432", "-h", "/"),
    )  # fmt: skip
    migration = Container(
        name=f"dht-contract-{deploy_id}-m", image=busybox_image, deploy_id=deploy_id,
        env_file=env_file, network=f"container:{database.name}", entrypoint="",
        command=("sh", "-c", "grep -w postgres /etc/hosts && wget -q -O /dev/null http://postgres:5432/etc/hosts"),
    )  # fmt: skip
    env = docker_engine.env
    try:
        run(rehearsal.run(database), env=env)
        answer = run(rehearsal.run(migration), env=env, check=False, timeout=60)
        assert answer.returncode == 0, answer.stdout + answer.stderr
        assert "127.0.0.1" in answer.stdout
        outside = Container(
            name=f"dht-contract-{deploy_id}-o", image=busybox_image, deploy_id=deploy_id,
            env_file=env_file, network="none", entrypoint="",
            command=("wget", "-q", "-T", "2", "-O", "/dev/null", "http://127.0.0.1:5432/etc/hosts"),
        )  # fmt: skip
        assert run(rehearsal.run(outside), env=env, check=False, timeout=60).returncode != 0
    finally:
        run(rehearsal.remove(database.name), env=env, check=False)
