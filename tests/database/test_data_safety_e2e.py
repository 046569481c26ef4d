"""A failed deploy loses no committed write: real engine, real PostgreSQL, a continuous writer.

The writer is a Compose service of the sample app (profile "writer") inserting a row every
100 ms and listing each row the server confirmed; it ignores SIGTERM, as many workers do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.report.text import describe
from jobs.state.records import DeployStore
from tests.support.deploying import config_for, deploy, wait_for
from tests.support.failures import assert_cause
from tests.support.pg_client import dump, numbers, psql, restore_copy
from tests.support.sample_app import FAILING_HEALTH, SHORT_HEALTH, SampleApp
from tests.support.writer import check_restored_and_kept, committed, writer_running

pytestmark = pytest.mark.docker
NOT_RESTORED = "database unchanged: not restored"


@pytest.fixture
def settings(sample_app: SampleApp, tmp_path: Path, redis_url: str) -> Settings:
    # Its deploys fail their health check (or migration) and their reverts come back healthy.
    configured = sample_app.environment_config(FAILING_HEALTH)
    return Settings.model_validate(config_for(configured, tmp_path / "state", redis_url))


@pytest.fixture
def writing_app(sample_app: SampleApp) -> Iterator[SampleApp]:
    """The sample app with its writer service running and a few rows already committed."""
    with writer_running(sample_app) as app:
        yield app


def _argvs(connection: redis.Redis, deploy_id: str) -> list[dict[str, Any]]:
    return DeployStore(connection).commands(deploy_id)


def test_code_only_failure_under_a_writer_loses_no_row(
    writing_app: SampleApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """New code that never gets healthy, no migration: reverted, data untouched, 0 rows lost."""
    app = writing_app
    record = deploy(settings, redis_conn, app.never_healthy())
    assert record.state == "reverted", record.error
    assert_cause(record, "not healthy within")
    assert record.database_change == "unchanged"
    assert record.restored_backup is None and record.kept_database is None
    assert NOT_RESTORED in (record.error or "")
    assert NOT_RESTORED in describe(record)
    assert not any("stop" in c["argv"] for c in _argvs(redis_conn, record.id))
    seen = len(committed(app))
    wait_for(lambda: len(committed(app)) > seen + 3, 30, "the writer to go on writing")
    acknowledged = committed(app)
    assert len(acknowledged) > 50  # it wrote all through the deploy
    assert acknowledged <= numbers(app.pg_port)
    assert app.running_version() == "1"


def test_schema_change_is_restored_and_the_discarded_writes_kept(
    writing_app: SampleApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A dropped column is restored from the backup; every discarded row is in the kept copy."""
    app = writing_app
    record = deploy(settings, redis_conn, app.destructive_migration_unhealthy_code())
    assert record.state == "reverted", record.error
    assert_cause(record, "not healthy within")
    assert record.failed_stage == "health"
    assert record.database_change == "changed"
    assert record.restored_backup == record.backup
    kept = Path(str(record.kept_database))
    assert kept.is_file() and kept.parent == app.backups_dir
    assert f"kept in {kept.name}" in (record.error or "") and "writes since" in describe(record)
    stops = [c for c in _argvs(redis_conn, record.id) if "stop" in c["argv"]]
    assert stops and stops[0]["argv"][-4:] == ["--timeout", "1", "api", "writer"], stops
    assert stops[0]["duration"] < 6  # the writer ignores SIGTERM: the graceful wait is 10 s
    check_restored_and_kept(app, record)
    assert app.running_version() == "1"


def test_concurrent_index_failing_part_way_is_restored(
    sample_app: SampleApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """An invalid index left by CREATE INDEX CONCURRENTLY (pg_dump hides it) is restored away."""
    before = sample_app.dump()
    record = deploy(settings, redis_conn, sample_app.failing_concurrent_index())
    assert record.state == "reverted", record.error
    assert_cause(record, 'could not create unique index "customers_half_built"')
    assert record.failed_stage == "migrate"
    assert record.database_change == "changed"
    assert record.restored_backup == record.backup
    half_built = "SELECT count(*) FROM pg_class WHERE relname = 'customers_half_built'"
    assert sample_app.psql(half_built) == "0"
    assert sample_app.dump() == before
    assert sample_app.running_version() == "1"


def test_a_restore_that_fails_part_way_changes_nothing(
    sample_app: SampleApp, redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """A plain owner's restore whose dump ends early is rolled back whole: DROP OWNED too."""
    # After the migration, cut this deploy's backup short: pg_restore fails inside its data.
    cut = (
        "import pathlib, sys\n"
        "backups = pathlib.Path(sys.argv[1]).glob('dev-*.dump')\n"
        "newest = max(backups, key=lambda f: f.stat().st_mtime)\n"
        "newest.write_bytes(newest.read_bytes()[: newest.stat().st_size * 3 // 4])\n"
    )
    hook = {"command": ["python3", "-c", cut, str(sample_app.backups_dir)]}
    # Neither version can be healthy (the column is gone, the restore fails): a short deadline.
    environment = {
        **sample_app.environment_config(SHORT_HEALTH),
        "hooks": {"after_migrate": [hook]},
    }
    settings = Settings.model_validate(config_for(environment, tmp_path / "state", redis_url))
    record = deploy(settings, redis_conn, sample_app.destructive_migration_unhealthy_code())
    assert record.state == "revert_failed", record.error
    assert "rolled back, the database is as it was" in (record.revert_error or "")
    assert_cause(record, "not healthy within")
    assert record.restored_backup is None
    ran = _argvs(redis_conn, record.id)
    assert any("|" in c["argv"] and "DROP OWNED BY CURRENT_USER CASCADE" in c["argv"] for c in ran)
    # Nothing of the failed restore stayed: the live database is the kept pre-restore copy.
    kept = Path(str(record.kept_database))
    copy = restore_copy(sample_app.pg_port, kept, "kept_copy")
    assert dump(sample_app.pg_port, "app") == dump(sample_app.pg_port, copy)
    columns = "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'"
    assert "email" not in psql(sample_app.pg_port, columns).split()
