"""The restore through a standby, for a role that may create databases: real engine, real
PostgreSQL, the sample app's continuous writer.

The official postgres image's POSTGRES_USER is a superuser, so this is most users' path: the
backup is restored beside the live database in the background while the deploy builds, and a
revert that restores only stops the writers and renames, in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.database.keep import name_kept_aside
from jobs.database.restore import restore_database
from jobs.database.standby import kept_name, prepare, swap_in
from jobs.execution.context import DeployContext, new_context
from jobs.execution.deploylog import DeployLog
from jobs.report.text import describe
from jobs.runbook.stages.backup import take_backup
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from tests.support.deploying import config_for, deploy
from tests.support.failures import assert_cause
from tests.support.pg_client import psql
from tests.support.sample_app import FAILING_HEALTH, SHORT_HEALTH, SampleApp
from tests.support.writer import check_restored_and_kept, writer_running

pytestmark = pytest.mark.docker
STANDBY = "app__dh_standby"
LEFT_BEHIND = r"SELECT datname FROM pg_database WHERE datname LIKE 'app\_\_dh\_%' ORDER BY 1"


def as_superuser(app: SampleApp, sql: str) -> str:
    return psql(app.pg_port, sql, database="postgres", user="postgres")


@pytest.fixture
def creating_app(sample_app: SampleApp) -> SampleApp:
    """The sample app whose role may create databases, with settings of the database's own."""
    as_superuser(sample_app, "ALTER ROLE app CREATEDB")
    as_superuser(sample_app, "ALTER DATABASE app SET timezone TO 'Pacific/Chatham'")
    as_superuser(sample_app, "COMMENT ON DATABASE app IS 'the crm'")
    return sample_app


@pytest.fixture
def settings(sample_app: SampleApp, tmp_path: Path, redis_url: str) -> Settings:
    # Its deploys fail their health check (or migration) and their reverts come back healthy.
    configured = sample_app.environment_config(FAILING_HEALTH)
    return Settings.model_validate(config_for(configured, tmp_path / "state", redis_url))


def commands(connection: redis.Redis, record: Deploy) -> list[dict[str, Any]]:
    return DeployStore(connection).commands(record.id)


def finished(command: dict[str, Any]) -> float:
    return float(command["started"]) + float(command["duration"])


def stage_started(record: Deploy, name: str) -> float:
    stage = next(stage for stage in record.stages if stage.name == name)
    return datetime.fromisoformat(stage.started_at.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def writing_app(creating_app: SampleApp) -> Iterator[SampleApp]:
    with writer_running(creating_app) as app:
        yield app


def test_schema_change_swaps_the_standby_in_and_keeps_the_discarded_writes(
    writing_app: SampleApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """Restored from a standby made in the background; only a rename waits for the writers."""
    app = writing_app
    record = deploy(settings, redis_conn, app.destructive_migration_unhealthy_code())
    assert record.state == "reverted", record.error
    assert record.failed_stage == "health" and record.database_change == "changed"
    assert_cause(record, "not healthy within")
    assert record.restored_backup == record.backup

    ran = commands(redis_conn, record)
    into_standby = [c for c in ran if "pg_restore" in c["argv"] and STANDBY in c["argv"]]
    assert len(into_standby) == 1, [c["argv"][-6:] for c in ran]
    # The head start: the standby was being restored before the migration even began.
    assert into_standby[0]["started"] < stage_started(record, "migrate")
    stop = next(c for c in ran if "stop" in c["argv"])
    assert stop["started"] >= finished(into_standby[0])  # the writers ran until it was ready
    swap = next(c for c in ran if f"standby={STANDBY}" in c["argv"])
    assert swap["exit"] == 0 and swap["started"] >= finished(stop)
    assert not any("DROP OWNED BY CURRENT_USER CASCADE" in c["argv"] for c in ran)

    kept = Path(str(record.kept_database))
    assert kept.is_file() and kept.parent == app.backups_dir
    assert f"kept in {kept.name}" in (record.error or "") and "writes since" in describe(record)
    assert as_superuser(app, LEFT_BEHIND) == ""  # the kept database was dumped, then dropped

    check_restored_and_kept(app, record)

    # What belongs to the database itself came across with the swap.
    assert psql(app.pg_port, "SHOW timezone") == "Pacific/Chatham"
    comment = "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'app'"
    assert as_superuser(app, comment) == "the crm"
    assert app.running_version() == "1"


def test_no_restore_needed_drops_the_standby(
    creating_app: SampleApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A code-only failure restores nothing; the standby made meanwhile is dropped, not left."""
    before = creating_app.dump()
    record = deploy(settings, redis_conn, creating_app.never_healthy())
    assert record.state == "reverted", record.error
    assert_cause(record, "not healthy within")
    assert record.restored_backup is None and record.kept_database is None
    ran = commands(redis_conn, record)
    assert any("createdb" in c["argv"] and STANDBY in c["argv"] for c in ran)
    drops = [c for c in ran if "dropdb" in c["argv"] and STANDBY in c["argv"]]
    assert drops and drops[-1]["exit"] == 0
    assert record.standby_database is None
    assert as_superuser(creating_app, LEFT_BEHIND) == ""
    assert creating_app.dump() == before


def test_a_standby_that_cannot_be_made_leaves_production_as_it_is(
    creating_app: SampleApp, redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """The restore fails before the swap: revert_failed, loudly, and the live database intact."""
    app = creating_app
    # Neither version can be healthy (the column stays dropped): a short health deadline.
    configured = app.environment_config(SHORT_HEALTH)
    settings = Settings.model_validate(config_for(configured, tmp_path / "state", redis_url))
    # A database of that name the role may not drop: every attempt at the standby fails.
    as_superuser(app, f"CREATE DATABASE {STANDBY} OWNER postgres")
    record = deploy(settings, redis_conn, app.destructive_migration_unhealthy_code())
    assert record.state == "revert_failed", record.error
    assert "REVERT FAILED, needs a human" in (record.error or "")
    assert_cause(record, "not healthy within")
    assert f"restored into {STANDBY}" in (record.revert_error or "")
    assert "the live database was not touched" in (record.revert_error or "")
    assert record.restored_backup is None and record.kept_database is None
    # The migration's change is still there: nothing was dropped, renamed or half restored.
    columns = "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'"
    assert "email" not in psql(app.pg_port, columns).split()
    assert as_superuser(app, LEFT_BEHIND) == STANDBY
    assert record.backup and Path(record.backup).is_file()  # named for the human, intact


def _context(settings: Settings, connection: redis.Redis, app: SampleApp) -> DeployContext:
    """A deploy's context as a worker builds it, for driving the restore step by step."""
    store = DeployStore(connection)
    record = Deploy(new_deploy_id(), "sample", "dev", "sha", app.v1, app.v1, "test")
    store.create(record)
    return new_context(record, settings, store, DeployLog(store, record.id))


def _again(ctx: DeployContext) -> DeployContext:
    """The context a recovering worker builds from the same record after the first one died."""
    record = ctx.store.get(ctx.deploy.id)
    return new_context(record, ctx.settings, ctx.store, DeployLog(ctx.store, record.id))


def test_a_swap_committed_before_the_worker_died_is_not_done_again(
    creating_app: SampleApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """The record names the database set aside before the swap; a recovering worker that finds
    it swaps nothing again, so the record still points at the discarded writes."""
    app = creating_app
    ctx = _context(settings, redis_conn, app)
    backup = take_backup(ctx)
    assert backup is not None
    app.psql("INSERT INTO customers (name, email) VALUES ('After the backup', 'a@x.test')")
    standby = prepare(ctx, backup, wait=True)
    kept = kept_name(ctx.environment.database, datetime.now(UTC))  # type: ignore[arg-type]
    name_kept_aside(ctx, kept, backup)
    swap_in(ctx, standby, kept)  # ... and the worker dies before it logs or saves anything else

    again = _again(ctx)
    swaps_before = len([c for c in commands(redis_conn, ctx.deploy) if "--file=-" in c["argv"]])
    restore_database(again, backup)
    swaps = [c for c in commands(redis_conn, ctx.deploy) if "--file=-" in c["argv"]]
    assert len(swaps) == swaps_before == 1  # the second worker swapped nothing
    assert again.deploy.restored_backup == str(backup)
    assert again.deploy.kept_database == f"database {kept}"
    assert as_superuser(app, LEFT_BEHIND) == kept
    names = "SELECT name FROM customers ORDER BY 1"
    assert "After the backup" not in app.psql(names)
    assert "After the backup" in psql(app.pg_port, names, database=kept)


def test_a_swap_that_never_happened_is_done_by_the_next_worker(
    creating_app: SampleApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A record naming a database set aside that does not exist (the worker died before the
    swap committed) gets a real restore, and names the database that real swap set aside."""
    app = creating_app
    ctx = _context(settings, redis_conn, app)
    backup = take_backup(ctx)
    assert backup is not None
    app.psql("INSERT INTO customers (name, email) VALUES ('After the backup', 'a@x.test')")
    name_kept_aside(ctx, "app__dh_kept_20260101T000000", backup)  # ... and the worker dies

    again = _again(ctx)
    restore_database(again, backup)
    assert again.deploy.restored_backup == str(backup)
    kept = as_superuser(app, LEFT_BEHIND)
    assert kept.startswith("app__dh_kept_") and kept != "app__dh_kept_20260101T000000"
    assert again.deploy.kept_database == f"database {kept}"
    assert "After the backup" not in app.psql("SELECT name FROM customers")
