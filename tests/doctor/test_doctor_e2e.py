"""`deployhook doctor` on a real host: the sample app's checkout, its stack on the test engine,
a real Redis. A healthy host passes every check; a broken one names every missing piece."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import git_repo
from tests.support.deploying import config_for
from tests.support.docker_engine import Engine
from tests.support.redis_server import socket_url, start_redis
from tests.support.sample_app import SampleApp
from tests.support.web import free_port
from webhook.cli import main

pytestmark = pytest.mark.docker
REPO = "example.com/acme/sample"  # what deploying.config_for configures


@pytest.fixture(scope="module")
def app(
    docker_engine: Engine,
    compose_command: list[str],
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SampleApp]:
    """One running sample app for the module, its origin reached as a path naming REPO."""
    app = SampleApp.create(docker_engine, compose_command, base_image, tmp_path_factory.mktemp("a"))
    mirror = app.root / "mirrors" / f"{REPO}.git"
    mirror.parent.mkdir(parents=True)
    mirror.symlink_to(app.origin)
    git_repo.git(app.checkout, "remote", "set-url", "origin", mirror.as_uri())
    yield app
    app.stop()


def _redis(directory: Path, *, appendonly: bool) -> Iterator[str]:
    directory.mkdir()
    process = start_redis(directory, appendonly=appendonly)
    try:
        yield socket_url(directory)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[str]:
    yield from _redis(tmp_path / "durable", appendonly=True)


@pytest.fixture
def forgetful_redis(tmp_path: Path) -> Iterator[str]:
    yield from _redis(tmp_path / "forgetful", appendonly=False)


def _doctor(
    config: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    path = tmp_path / "deployhook.yml"
    path.write_text(yaml.safe_dump(config))
    capsys.readouterr()
    code = main(["doctor", "--config", str(path), *extra])
    return code, capsys.readouterr().out


def _statuses(shown: str) -> dict[tuple[str, str], str]:
    return {(c["target"], c["check"]): c["status"] for c in json.loads(shown)["checks"]}


def test_healthy_host_passes_every_check(
    app: SampleApp, durable_redis: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checkout, remote, fetch, Docker, Compose, services, pg_dump, backups, health and a
    Redis with fsync on every write all pass, and doctor exits 0."""
    config = config_for(app.environment_config(), tmp_path / "state", durable_redis)
    code, shown = _doctor(config, tmp_path, capsys, "--json")
    statuses = _statuses(shown)
    checks = ("checkout", "remote", "fetch", "docker", "compose", "services", "database")
    expected = {("sample/dev", check): "ok" for check in (*checks, "backups", "health")}
    guards = {("deployhook", check): "ok" for check in ("redis-auth", "redis-memory", "jobs")}
    assert statuses == {("deployhook", "redis"): "ok", **guards, **expected}, shown
    assert code == 0
    database = next(c for c in json.loads(shown)["checks"] if c["check"] == "database")
    assert "a restore is in place (role app may not create databases" in database["detail"]
    code, text = _doctor(config, tmp_path, capsys, "sample/dev")
    assert code == 0 and text.splitlines()[-1] == "ready to deploy; 0 warning(s)", text


def test_broken_host_names_every_missing_piece(
    app: SampleApp, forgetful_redis: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing checkout, wrong remote, missing service, bad database user, unwritable backup
    directory, dead health URL and a Redis that persists nothing each fail, with a fix."""
    git_repo.git(app.checkout, "remote", "add", "elsewhere", (app.root / "other.git").as_uri())
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    broken = app.environment_config()
    broken.update(
        remote="elsewhere",
        migrate={"service": "worker"},
        database={"service": "postgres", "user": "nobody", "name": "app"},
        backups={"dir": str(blocker / "backups")},
        health={"url": f"http://127.0.0.1:{free_port()}/healthz", "timeout": 2},
    )
    gone = {**app.environment_config(), "path": str(tmp_path / "no-checkout")}
    config = config_for(broken, tmp_path / "state", forgetful_redis)
    config["projects"]["sample"]["environments"] = {"broken": broken, "gone": gone}
    code, shown = _doctor(config, tmp_path, capsys, "--json")
    checks = json.loads(shown)["checks"]
    failed = {(c["target"], c["check"]) for c in checks if c["status"] == "fail"}
    assert failed == {
        ("deployhook", "redis"),
        ("sample/gone", "checkout"),
        ("sample/broken", "remote"),
        ("sample/broken", "services"),
        ("sample/broken", "database"),
        ("sample/broken", "backups"),
        ("sample/broken", "health"),
    }, shown
    assert all(c["fix"] for c in checks if c["status"] == "fail"), shown
    details = {(c["target"], c["check"]): c["detail"] for c in checks}
    assert "worker (migrate.service)" in details["sample/broken", "services"]
    assert "nobody" in details["sample/broken", "database"]
    assert "other.git" in details["sample/broken", "remote"]
    assert code == 1 and json.loads(shown)["ok"] is False
