"""End-to-end deploys of the sample application on a real Docker engine, Postgres and git.

Each scenario asserts on the running stack, the checkout, the database and the history; every
one also checks that `.env` and the named volume survived.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.runbook.stages.commit import last_good_path, read_last_good
from jobs.state.locks import current_owner
from jobs.state.records import DeployStore
from tests.support.deploying import (
    config_for,
    deploy,
    push,
    start_worker_process,
    wait_for,
    write_config,
)
from tests.support.failures import assert_cause
from tests.support.sample_app import FAILING_HEALTH

pytestmark = pytest.mark.docker


@pytest.fixture
def env_file_text(sample_app: Any) -> str:
    return (Path(sample_app.checkout) / ".env").read_text()


@pytest.fixture
def config(sample_app: Any, tmp_path: Path, redis_url: str) -> dict[str, Any]:
    return config_for(sample_app.environment_config(), tmp_path / "state", redis_url)


@pytest.fixture
def settings(config: dict[str, Any]) -> Settings:
    return Settings.model_validate(config)


def _survivors_intact(sample_app: Any, env_file_text: str) -> None:
    assert (Path(sample_app.checkout) / ".env").read_text() == env_file_text
    assert sample_app.volume_exists()


def _stage_names(record: Any) -> list[str]:
    return [stage.name for stage in record.stages]


def test_good_deploy_applies_migration_and_serves_new_version(
    sample_app: Any, settings: Settings, redis_conn: redis.Redis, env_file_text: str
) -> None:
    """A good commit is backed up, built, swapped, migrated and healthy, and becomes last good."""
    sha = sample_app.good_change()
    record = deploy(settings, redis_conn, sha)
    assert record.state == "succeeded", record.error
    assert _stage_names(record) == [
        "snapshot",
        "fetch",
        "backup",
        "checkout",
        "build",
        "swap",
        "migrate",
        "health",
        "commit",
    ]
    assert all(stage.outcome == "ok" for stage in record.stages)
    assert sample_app.checked_out() == sha
    assert sample_app.running_version() == "2"
    backup = Path(record.backup)
    assert backup.exists() and backup.stat().st_size > 0
    last_good = json.loads(last_good_path(settings.state_dir, "sample", "dev").read_text())
    assert last_good["sha"] == sha and last_good["backup"] == str(backup)
    assert read_last_good(redis_conn, "sample/dev")["deploy_id"] == record.id
    commands = DeployStore(redis_conn).commands(record.id)
    assert any("build" in command["argv"] for command in commands)
    assert not any("down" in command["argv"] or "-v" in command["argv"] for command in commands)
    assert current_owner(redis_conn, "sample/dev") is None
    _survivors_intact(sample_app, env_file_text)


def test_failed_build_never_stops_the_old_containers(
    sample_app: Any, settings: Settings, redis_conn: redis.Redis, env_file_text: str
) -> None:
    """When the image build fails, the old containers keep running and the checkout goes back."""
    before_sha, before_containers = sample_app.checked_out(), sample_app.container_ids()
    record = deploy(settings, redis_conn, sample_app.broken_build())
    assert record.state == "reverted", record.error
    assert record.failed_stage == "build", record.error
    assert_cause(record, "'/bin/sh -c false' returned a non-zero code: 1")
    assert sample_app.container_ids() == before_containers
    assert sample_app.checked_out() == before_sha
    assert sample_app.running_version() == "1"
    assert record.restored_backup is None
    _survivors_intact(sample_app, env_file_text)


def test_failed_migration_is_reverted_with_the_database_as_before(
    sample_app: Any, settings: Settings, redis_conn: redis.Redis, env_file_text: str
) -> None:
    """A migration that fails midway ends reverted, with the database identical to before."""
    before_dump, before_sha = sample_app.dump(), sample_app.checked_out()
    record = deploy(settings, redis_conn, sample_app.failing_migration())
    assert record.state == "reverted", record.error
    assert record.failed_stage == "migrate", record.error
    assert_cause(record, "RuntimeError: migration failed midway on purpose")
    assert record.restored_backup == record.backup
    assert record.database_change == "changed"
    assert f"kept in {Path(str(record.kept_database)).name}" in (record.error or "")
    assert sample_app.dump() == before_dump
    assert sample_app.checked_out() == before_sha
    assert sample_app.running_version() == "1"
    _survivors_intact(sample_app, env_file_text)


def _failing_health(config: dict[str, Any]) -> Settings:
    """The settings with the deadline of a deploy whose revert must come back healthy."""
    config["projects"]["sample"]["environments"]["dev"]["health"]["timeout"] = FAILING_HEALTH
    return Settings.model_validate(config)


def test_destructive_migration_with_unhealthy_code_restores_the_data(
    sample_app: Any, config: dict[str, Any], redis_conn: redis.Redis, env_file_text: str
) -> None:
    """Dropped data comes back: a full dump after the revert equals the one before the deploy."""
    settings = _failing_health(config)
    before_dump = sample_app.dump()
    record = deploy(settings, redis_conn, sample_app.destructive_migration_unhealthy_code())
    assert record.state == "reverted", record.error
    assert record.failed_stage == "health", record.error
    assert_cause(record, "not healthy within")
    assert sample_app.dump() == before_dump
    assert sample_app.running_version() == "1"
    _survivors_intact(sample_app, env_file_text)


def test_health_timeout_reverts_after_the_deadline(
    sample_app: Any, config: dict[str, Any], redis_conn: redis.Redis, env_file_text: str
) -> None:
    """A version that never becomes healthy fails at the deadline and the old one serves again."""
    settings = _failing_health(config)
    record = deploy(settings, redis_conn, sample_app.never_healthy())
    assert record.state == "reverted", record.error
    assert record.failed_stage == "health", record.error
    assert "not healthy within" in (record.error or "")
    assert_cause(record, "not healthy within")
    health = next(stage for stage in record.stages if stage.name == "health")
    assert health.outcome == "failed" and "last seen" in health.detail
    assert sample_app.running_version() == "1"
    _survivors_intact(sample_app, env_file_text)


def test_no_backup_no_deploy(
    sample_app: Any, settings: Settings, redis_conn: redis.Redis, env_file_text: str
) -> None:
    """With the database service stopped, the deploy is refused before anything changes."""
    before_sha = sample_app.checked_out()
    sample_app.compose("stop", "postgres")
    api_containers = sample_app.container_ids()
    record = deploy(settings, redis_conn, sample_app.good_change())
    assert record.state == "failed"
    assert record.failed_stage == "backup", record.error
    assert "nothing was changed" in (record.error or "")
    assert_cause(record, 'service "postgres" is not running')
    assert sample_app.checked_out() == before_sha
    assert sample_app.container_ids() == api_containers
    backup_dir = settings.backup_dir("sample", "dev")
    assert not list(backup_dir.glob("*")) if backup_dir.exists() else True
    sample_app.compose("start", "postgres")
    _survivors_intact(sample_app, env_file_text)


def test_commit_not_on_the_branch_is_refused(
    sample_app: Any, settings: Settings, redis_conn: redis.Redis, env_file_text: str
) -> None:
    """A SHA from another branch is refused before the backup; nothing changes."""
    before_sha = sample_app.checked_out()
    record = deploy(settings, redis_conn, sample_app.side_commit())
    assert record.state == "failed"
    assert record.failed_stage == "fetch", record.error
    assert "refusing it" in (record.error or "")
    assert_cause(record, "refusing it")
    assert sample_app.checked_out() == before_sha
    assert record.backup is None
    _survivors_intact(sample_app, env_file_text)


def test_newest_push_wins_while_a_deploy_runs(
    sample_app: Any,
    settings: Settings,
    config: dict[str, Any],
    redis_conn: redis.Redis,
    tmp_path: Path,
    env_file_text: str,
) -> None:
    """Two pushes during a deploy: the first completes, the middle is superseded, the last runs."""
    first = push(redis_conn, settings, sample_app.good_change())
    worker = start_worker_process(write_config(config, tmp_path / "c.yml"), tmp_path / "w.log")
    store = DeployStore(redis_conn)
    wait_for(lambda: store.get(first.id).state == "running", 60, "the first deploy to start")
    middle = push(redis_conn, settings, sample_app.commit({"NOTE": "middle\n"}, "middle"))
    last_sha = sample_app.commit({"NOTE": "last\n"}, "last")
    last = push(redis_conn, settings, last_sha)
    assert worker.wait(timeout=300) == 0, (tmp_path / "w.log").read_text()[-3000:]
    states = [store.get(d.id).state for d in (first, middle, last)]
    assert states == ["succeeded", "superseded", "succeeded"], [store.get(last.id).error]
    assert sample_app.checked_out() == last_sha
    _survivors_intact(sample_app, env_file_text)


def test_superuser_restore_swaps_in_a_standby(
    sample_app: Any, config: dict[str, Any], redis_conn: redis.Redis, env_file_text: str
) -> None:
    """Backed up as a superuser, a failed migration is undone by swapping in a standby restored
    beside the live database, owned like it, with nothing left behind."""
    config["projects"]["sample"]["environments"]["dev"]["database"]["user"] = "postgres"
    settings = Settings.model_validate(config)
    before_dump = sample_app.dump()
    record = deploy(settings, redis_conn, sample_app.failing_migration())
    assert record.state == "reverted", record.error
    assert_cause(record, "RuntimeError: migration failed midway on purpose")
    commands = [" ".join(c["argv"]) for c in DeployStore(redis_conn).commands(record.id)]
    assert any("pg_restore" in c and "--dbname app__dh_standby" in c for c in commands), commands
    assert any("createdb" in c and "--owner app" in c for c in commands), commands
    assert not any("DROP OWNED" in c or "--create" in c for c in commands)
    assert sample_app.dump() == before_dump
    owner = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"
    assert sample_app.psql(owner) == "app"
    left = r"SELECT count(*) FROM pg_database WHERE datname LIKE 'app\_\_dh\_%'"
    assert sample_app.psql(left) == "0"  # neither the standby nor the database set aside
    assert sample_app.running_version() == "1"
    _survivors_intact(sample_app, env_file_text)
