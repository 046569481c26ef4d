"""The revert starts the services whose image changed first, and only when the rest is ready.

Real engine, real sample app (PostgreSQL with a health check, an API that depends on it being
healthy): see jobs/runbook/revert_start.py for why the first start skips Compose's dependency wait.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.execution.context import DeployContext, new_context
from jobs.execution.deploylog import DeployLog
from jobs.runbook.revert_start import changed_services, start_changed_first
from jobs.runbook.stages.health import wait_healthy
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from tests.support.commands import run
from tests.support.deploying import config_for, deploy
from tests.support.docker_engine import Engine
from tests.support.failures import assert_cause
from tests.support.http_thread import in_thread
from tests.support.sample_app import SampleApp


@pytest.fixture(scope="module")
def app(
    docker_engine: Engine, compose_command: list[str], base_image: str, tmp_path_factory: Any
) -> Iterator[SampleApp]:
    """One sample app at v1 for the module: the revert below leaves it at v1 again."""
    sample = SampleApp.create(
        docker_engine, compose_command, base_image, tmp_path_factory.mktemp("revert-start")
    )
    yield sample
    sample.stop()


@pytest.fixture
def settings(app: SampleApp, tmp_path: Path, redis_url: str) -> Settings:
    health = {"url": app.health_url, "timeout": 4, "interval": 0.5}
    environment = {**app.environment_config(), "health": health}
    return Settings.model_validate(config_for(environment, tmp_path / "state", redis_url))


def _context(settings: Settings, store: DeployStore) -> DeployContext:
    record = Deploy(
        id=new_deploy_id(), project="sample", environment="dev", trigger="test",
        ref_kind="branch", ref_name="main", sha="0" * 40,
    )  # fmt: skip
    return new_context(record, settings, store, DeployLog(store, record.id))


def _started_at(app: SampleApp, container: str) -> float:
    stamp = run(
        ["docker", "inspect", "--format", "{{.State.StartedAt}}", container], env=app.engine.env
    ).stdout.strip()
    # Docker prints nanoseconds; fromisoformat takes at most microseconds.
    seconds, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{seconds}.{fraction[:6] or '0'}+00:00").timestamp()


@pytest.mark.docker
def test_revert_serves_the_previous_api_before_the_full_compose_up(
    app: SampleApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A failed health check puts the old api back with `up --no-deps api` before the full up."""
    database_before = app.container_ids()["postgres"]
    record = deploy(settings, redis_conn, app.never_healthy())
    assert record.state == "reverted", record.error
    assert_cause(record, "not healthy within")
    assert app.running_version() == "1"
    commands = DeployStore(redis_conn).commands(record.id)
    ups = [c for c in commands if "up" in c["argv"]][-2:]
    assert ups[0]["argv"][-3:] == ["--no-build", "--no-deps", "api"]
    assert ups[1]["argv"][-2:] == ["--detach", "--no-build"]
    api_started = _started_at(app, app.container_ids()["api"])
    assert ups[0]["started"] < api_started < ups[1]["started"]
    assert app.container_ids()["postgres"] == database_before  # never touched by the revert


@pytest.mark.docker
def test_revert_start_waits_for_compose_when_another_service_is_not_running(
    app: SampleApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """With the database paused, the first start runs nothing: Compose orders the full start."""
    store = DeployStore(redis_conn)
    ctx = _context(settings, store)
    record = ctx.deploy
    database = app.container_ids()["postgres"]
    # The api's previous image is one it does not run: without the pause it would start.
    ctx.previous_images = {**app.image_ids(), "api": "sha256:" + "0" * 64}
    run(["docker", "pause", database], env=app.engine.env)
    try:
        started = start_changed_first(ctx)
    finally:
        run(["docker", "unpause", database], env=app.engine.env)
        ctx.close()
    assert started == []
    assert store.commands(record.id) == []
    assert any("postgres is paused" in line for line in store.log(record.id))


class FailsOnce(BaseHTTPRequestHandler):
    """503 for the first GET after `answered` is reset, 200 afterwards."""

    answered = 0

    def do_GET(self) -> None:
        FailsOnce.answered += 1
        self.send_response(503 if FailsOnce.answered == 1 else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.docker
def test_revert_health_check_polls_again_sooner_than_the_configured_interval(
    app: SampleApp, tmp_path: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """After one failed probe the revert looks again within 0.1 s; the health stage waits 2 s."""
    with in_thread(ThreadingHTTPServer(("127.0.0.1", 0), FailsOnce)) as base:
        health = {"url": f"{base}/healthz", "timeout": 20, "interval": 2}
        environment = {**app.environment_config(), "health": health}
        config = config_for(environment, tmp_path / "state", redis_url)
        ctx = _context(Settings.model_validate(config), DeployStore(redis_conn))
        took = {}
        try:
            FailsOnce.answered = 1  # 200s only: until the containers' own health checks pass
            wait_healthy(ctx, "health")
            for stage in ("revert", "health"):
                FailsOnce.answered = 0
                start = time.monotonic()
                wait_healthy(ctx, stage)
                took[stage] = time.monotonic() - start
        finally:
            ctx.close()
    assert took["revert"] < 1.5, took
    assert took["health"] >= 2.0, took


@pytest.mark.parametrize(
    ("previous", "running", "changed"),
    [
        ({"api": "a", "db": "d"}, {"api": "a", "db": "d"}, []),
        ({"api": "a", "db": "d"}, {"api": "b", "db": "d"}, ["api"]),
        ({"api": "a", "db": "d"}, {"db": "d"}, ["api"]),  # stopped or removed: started again
        ({"api": "a"}, {"api": "a", "new": "n"}, []),  # added by the failed version: not ours
        ({"web": "w", "api": "a"}, {}, ["api", "web"]),
    ],
)
def test_changed_services_are_those_off_their_previous_image(
    previous: dict[str, str], running: dict[str, str], changed: list[str]
) -> None:
    """A service is changed when it ran an image before the deploy and does not run it now."""
    assert changed_services(previous, running) == changed
