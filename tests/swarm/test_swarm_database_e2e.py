"""Database drills on a real swarm: migrations as one-off tasks, restore only when changed.

PostgreSQL runs as a task of the stack, pinned to node 3 (a worker, not the manager) with its
volume. The first drills reach it at a URL (the bed brings its published port to loopback);
the later ones name it as the stack's service `db`, so deployhook finds its task through the
manager and runs pg_dump, the standby restore and the rehearsal on node 3's own engine. The web
image carries psql and its release's migration; each migration runs as a one-off task of the
new image on the stack's network before the stack deploy. The tests build on each other in
order, on one bed and one app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.doctor import examine
from jobs.state.records import DeployStore
from tests.support.commands import run
from tests.support.deploying import config_for, deploy
from tests.support.docker_engine import Engine
from tests.support.failures import assert_cause
from tests.support.swarm_app import FIRST_MIGRATION, SwarmApp
from tests.support.swarm_bed import SwarmBed
from tests.support.swarm_monitor import monitor_for_a_second
from tests.support.swarm_writer import WRITES_TABLE, Writer, run_psql

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def app(
    swarm_bed: SwarmBed, docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> SwarmApp:
    """The swarm app with PostgreSQL in the stack, at v1 (nothing deployed yet), its updates
    monitored for 1 s (Swarm's 5 s waited out each one)."""
    root = tmp_path_factory.mktemp("swarm-db-app")
    app = SwarmApp.create(swarm_bed, docker_engine, root, database=True, database_node=3)
    monitor_for_a_second(app)
    return app


def _settings(
    app: SwarmApp, factory: pytest.TempPathFactory, redis_url: str, database: dict[str, Any]
) -> Settings:
    environment = app.environment_config(**database)
    state = factory.mktemp("swarm-db-state")
    return Settings.model_validate(config_for(environment, state, redis_url))


@pytest.fixture(scope="module")
def settings(app: SwarmApp, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    """The database at a URL."""
    return _settings(app, tmp_path_factory, redis_url, app.database_config())


@pytest.fixture(scope="module")
def service_settings(
    app: SwarmApp, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Settings:
    """The same stack with its database named as the stack's service (no URL)."""
    return _settings(app, tmp_path_factory, redis_url, app.service_database_config())


@pytest.fixture(scope="module")
def rehearsing_settings(
    app: SwarmApp, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Settings:
    """The database as the stack's service, and every migration rehearsed first."""
    config = app.service_database_config(rehearse=True)
    return _settings(app, tmp_path_factory, redis_url, config)


def _log(record: Any, redis_conn: redis.Redis) -> str:
    return "\n".join(DeployStore(redis_conn).log(record.id))


def test_first_deploy_runs_the_migration_as_a_task_and_removes_it(
    app: SwarmApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """From nothing: the migration task runs before the stack deploy, its output is in the
    log, and no migration service is left behind."""
    record = deploy(settings, redis_conn, app.v1)
    assert record.state == "succeeded", record.error
    names = [stage.name for stage in record.stages]
    assert names.index("migrate") < names.index("swap"), names
    log = _log(record, redis_conn)
    assert "migration task " in log and ": complete" in log
    assert "INSERT 0 50" in log  # psql's own output, captured from the task
    assert set(app.service_specs()) == {"db", "proxy", "web"}
    assert "customer 50" in app.dump()


def test_failing_migration_is_reverted_without_a_restore(
    app: SwarmApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A migration that fails (its transaction rolled back): reverted, the database unchanged
    byte for byte, and not restored."""
    before, images = app.dump(), app.service_images()
    failing = "BEGIN;\nALTER TABLE customers ADD COLUMN phone text;\nSELECT 1/0;\nCOMMIT;\n"
    sha = app.commit({"web/migrate.sql": failing, "web/www/version": "2\n"}, "failing migration")
    record = deploy(settings, redis_conn, sha)
    assert record.state == "reverted", record.error
    assert record.failed_stage == "migrate", record.error
    assert "division by zero" in (record.error or "")
    assert_cause(record, "division by zero")
    assert record.database_change == "unchanged"
    log = _log(record, redis_conn)
    assert "database unchanged: not restored" in log and "revert: restore database" not in log
    assert app.dump() == before
    assert app.service_images() == images
    assert set(app.service_specs()) == {"db", "proxy", "web"}  # the task is gone


def test_destructive_migration_then_unhealthy_code_is_restored_byte_equal(
    app: SwarmApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A migration that drops a table, then a release that never gets healthy: the revert
    restores the backup, and the database equals what it was before, byte for byte."""
    _destructive_then_unhealthy(app, settings, redis_conn)


def _destructive_then_unhealthy(
    app: SwarmApp, settings: Settings, redis_conn: redis.Redis
) -> tuple[Any, str]:
    """Deploy a dropped table with a release that never gets healthy; check it was reverted
    and restored byte-equal; the record and its log."""
    before, images = app.dump(), app.service_images()
    files: dict[str, str | None] = {
        "web/migrate.sql": "DROP TABLE customers;\n",
        "web/www/version": "bad\n",
        "web/www/healthz": None,
    }
    record = deploy(settings, redis_conn, app.commit(files, "destructive and unhealthy"))
    assert record.state == "reverted", record.error
    assert record.failed_stage == "swap", record.error
    assert_cause(record, "swarm update failed: ")
    assert record.database_change == "changed"
    log = _log(record, redis_conn)
    assert "revert: restore database" in log
    assert app.dump() == before
    assert app.service_images() == images
    assert app.get("/version").strip() == "1"
    return record, log


def _on_database_node(app: SwarmApp, log: str) -> None:
    """The database's commands ran in its task's container, on node 3's own engine."""
    node = app.database_node
    assert node is not None
    assert f"--host {node.host} exec -i {app.database_container()} pg_dump" in log, log[-3000:]


def test_service_database_failing_migration_is_reverted_without_a_restore(
    app: SwarmApp, service_settings: Settings, redis_conn: redis.Redis
) -> None:
    """database.service on a swarm: the backup runs in the task's container on node 3; a
    failing migration is reverted, the database unchanged byte for byte and not restored."""
    before, images, container = app.dump(), app.service_images(), app.database_container()
    failing = "BEGIN;\nALTER TABLE customers ADD COLUMN fax text;\nSELECT 1/0;\nCOMMIT;\n"
    files = {"web/migrate.sql": failing, "web/www/version": "4\n", "web/www/healthz": "ok\n"}
    record = deploy(service_settings, redis_conn, app.commit(files, "failing migration"))
    assert record.state == "reverted", record.error
    assert record.failed_stage == "migrate", record.error
    assert record.backup and Path(record.backup).stat().st_size > 0
    assert record.database_change == "unchanged"
    log = _log(record, redis_conn)
    _on_database_node(app, log)
    assert "database unchanged: not restored" in log and "revert: restore database" not in log
    assert app.dump() == before
    assert app.service_images() == images
    assert app.database_container() == container  # the database task never restarted


def test_service_database_destructive_migration_then_unhealthy_code_is_restored(
    app: SwarmApp, service_settings: Settings, redis_conn: redis.Redis
) -> None:
    """database.service on a swarm: a dropped table and a never-healthy release; the revert
    restores through a standby on node 3, byte-equal, and keeps the database it replaced."""
    record, log = _destructive_then_unhealthy(app, service_settings, redis_conn)
    _on_database_node(app, log)
    assert "kept the database as it was as the database app__dh_kept_" in log  # the standby
    kept = Path(str(record.kept_database))  # then dumped on node 3 and named in the record
    assert kept.is_file() and kept.name.startswith("dev-kept-"), kept
    listing = run(["pg_restore", "--list", str(kept)], timeout=60).stdout
    assert " TABLE public customers " not in listing  # the database the restore replaced
    assert " TABLE public customers " in run(["pg_restore", "--list", str(record.backup)]).stdout


def test_service_database_good_deploy_loses_no_write(
    app: SwarmApp, rehearsing_settings: Settings, redis_conn: redis.Redis
) -> None:
    """A good release, rehearsed on node 3, while a client writes a row every 50 ms: succeeded,
    every acknowledged write is there afterwards, and the database task never restarted."""
    run_psql(app, WRITES_TABLE)
    container = app.database_container()
    files = {
        "web/migrate.sql": FIRST_MIGRATION,
        "web/www/version": "5\n",
        "web/www/healthz": "ok\n",
    }
    with Writer(app.database_port) as writer:
        writer.wait_for(5)
        record = deploy(rehearsing_settings, redis_conn, app.commit(files, "good release"))
        writer.wait_for(len(writer.acknowledged) + 5)
    assert record.state == "succeeded", record.error
    log = _log(record, redis_conn)
    assert "rehearsal passed" in log
    assert writer.errors == [], writer.errors[:3]
    rows = {int(n) for n in run_psql(app, "SELECT n FROM writes").split()}
    lost = writer.acknowledged - rows
    assert not lost, f"{len(lost)} of {len(writer.acknowledged)} acknowledged writes lost"
    assert len(writer.acknowledged) > 10
    assert app.get("/version").strip() == "5"
    assert app.database_container() == container


def test_service_database_failing_rehearsal_changes_nothing(
    app: SwarmApp, rehearsing_settings: Settings, redis_conn: redis.Redis
) -> None:
    """A failing migration caught by the rehearsal on node 3 (whose engine alone has the
    database's image): the deploy fails before anything changed, no throwaway is left."""
    before, images = app.dump(), app.service_images()
    failing = "BEGIN;\nDROP TABLE customers;\nSELECT 1/0;\nCOMMIT;\n"
    files = {"web/migrate.sql": failing, "web/www/version": "6\n"}
    record = deploy(rehearsing_settings, redis_conn, app.commit(files, "fails in rehearsal"))
    assert record.state == "failed", record.error
    assert record.failed_stage == "rehearse", record.error
    assert "division by zero" in (record.error or "")
    assert app.dump() == before
    assert app.service_images() == images
    node = app.database_node
    assert node is not None
    left = app.bed.docker(node, "ps", "-a", "-q", "--filter", "label=deployhook.rehearsal")
    assert left.strip() == ""


def test_doctor_finds_the_database_task_and_its_pin(
    app: SwarmApp, service_settings: Settings
) -> None:
    """doctor with database.service on a swarm: pg_dump works in the task's container on its
    node, and the placement check names the database's constraint."""
    environment = service_settings.environment("sample", "dev")
    findings = {f.check: f for f in examine(service_settings, [environment])}
    assert findings["database"].status == "ok", findings["database"]
    assert "pg_dump works as postgres on app" in findings["database"].detail
    assert "through a standby database" in findings["database"].detail
    assert findings["placement"].status == "ok", findings["placement"]
    assert "the database db by node.labels.dh_node == n3" in findings["placement"].detail
