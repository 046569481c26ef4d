"""Database drills on a real swarm: migrations as one-off tasks, restore only when changed.

PostgreSQL runs as a task of the stack, pinned to node 1 with its volume; deployhook reaches
it at a URL (the bed brings its published port to loopback). The web image carries psql and
its release's migration; each migration runs as a one-off task of the new image on the stack's
network before the stack deploy. The tests build on each other in order.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from config import Settings
from jobs.state.records import DeployStore
from tests.support.deploying import config_for, deploy
from tests.support.docker_engine import Engine
from tests.support.swarm_app import SwarmApp
from tests.support.swarm_bed import SwarmBed

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def app(
    swarm_bed: SwarmBed, docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> SwarmApp:
    """The swarm app with PostgreSQL in the stack, at v1 (nothing deployed yet)."""
    root = tmp_path_factory.mktemp("swarm-db-app")
    return SwarmApp.create(swarm_bed, docker_engine, root, database=True)


@pytest.fixture(scope="module")
def settings(app: SwarmApp, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    environment = app.environment_config(**app.database_config())
    state = tmp_path_factory.mktemp("swarm-db-state")
    return Settings.model_validate(config_for(environment, state, redis_url))


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
    before, images = app.dump(), app.service_images()
    files: dict[str, str | None] = {
        "web/migrate.sql": "DROP TABLE customers;\n",
        "web/www/version": "bad\n",
        "web/www/healthz": None,
    }
    record = deploy(settings, redis_conn, app.commit(files, "destructive and unhealthy"))
    assert record.state == "reverted", record.error
    assert record.failed_stage == "swap", record.error
    assert record.database_change == "changed"
    assert "revert: restore database" in _log(record, redis_conn)
    assert app.dump() == before
    assert app.service_images() == images
    assert app.get("/version").strip() == "1"
