"""docs/first-deploy.md, run: examples/notes (API with alembic, PostgreSQL, Caddy) started by
hand, then a signed push through the real intake deploys a release, and a bad release (a
migration that cannot apply to the data) is reverted while the previous version serves."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
import yaml

from config import load_settings
from jobs.state.records import DeployStore
from tests.support import git_repo
from tests.support.deliveries import github_headers, github_push
from tests.support.deploying import work
from tests.support.docker_engine import Engine
from tests.support.example_app import OVERRIDE, ExampleApp
from tests.support.failures import assert_cause
from tests.support.web import DEPLOYHOOK, free_port, running

pytestmark = pytest.mark.docker
CONFIG = Path(__file__).resolve().parent.parent / "examples" / "deployhook.yml"
SECRET = "notes-webhook-secret-for-tests"
REPO = "github.com/acme/notes"
WALK_THROUGH = CONFIG.parent.parent / "docs" / "first-deploy.md"


def migration(name: str) -> dict[str, str]:
    """The migration file the walk-through writes with `cat > PATH <<'EOF'`, path -> text."""
    path = f"migrations/versions/{name}"
    found = re.search(
        rf"cat > {re.escape(path)} <<'EOF'\n(.*?)\nEOF\n", WALK_THROUGH.read_text(), re.S
    )
    assert found, f"expected docs/first-deploy.md to write {path}"
    return {path: found.group(1) + "\n"}


@pytest.fixture
def example(
    docker_engine: Engine,
    compose_command: list[str],
    base_image: str,
    caddy_image: str,
    tmp_path: Path,
) -> Iterator[ExampleApp]:
    root = tmp_path / "app"
    app = ExampleApp.create(docker_engine, compose_command, base_image, caddy_image, root)
    yield app
    app.stop()


def _config(app: ExampleApp, tmp_path: Path, redis_url: str) -> Path:
    """examples/deployhook.yml with this machine's paths, ports and the test images' file."""
    config = yaml.safe_load(CONFIG.read_text())
    config.update(state_dir=str(tmp_path / "state"), redis={"url": redis_url})
    project = config["projects"]["notes"]
    project["repo"] = REPO
    prod = project["environments"]["prod"]
    prod.update(path=str(app.checkout), backups={"dir": str(tmp_path / "backups")})
    prod["compose"].update(files=["compose.yml", OVERRIDE], project=app.project)
    prod["health"].update(url=f"{app.url}/healthz", timeout=30)
    path = tmp_path / "deployhook.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _push(intake: str, sha: str) -> str:
    """A push to main as GitHub signs and sends it; the deploy id of the 202."""
    body = github_push(sha, REPO)
    answer = requests.post(
        f"{intake}/hooks/notes", data=body, headers=github_headers(body, secret=SECRET), timeout=10
    )
    assert answer.status_code == 202, answer.text
    deploy_id: str = answer.json()["deploy_id"]
    return deploy_id


def test_first_deploy_walk_through(
    example: ExampleApp, redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """A signed push deploys release 2 (its migration applied, served through Caddy); release
    3, whose migration fails on the existing notes, is reverted and release 2 keeps serving."""
    config = _config(example, tmp_path, redis_url)
    env = {"NOTES_WEBHOOK_SECRET": SECRET, "DEPLOYHOOK_CONFIG": str(config)}
    os.environ.update(env)  # the worker below loads the same file
    settings = load_settings(config)
    store = DeployStore(redis_conn)
    port = free_port()
    intake = f"http://127.0.0.1:{port}"
    serve = [*DEPLOYHOOK, "serve", "--config", str(config), "--bind", f"127.0.0.1:{port}"]
    with running(serve, env, intake, log=tmp_path / "serve.log"):
        note = requests.post(f"{example.url}/notes", json={"text": "before v2"}, timeout=5)
        assert note.status_code == 201, note.text
        good = example_release(example, "2", migration("0002_pinned.py"))
        first = _push(intake, good)
        work(settings, redis_conn)
        assert store.get(first).state == "succeeded", store.get(first).error
        assert example.health() | {"status": "ok"} == {"status": "ok", "version": "2",
                                                       "schema": "0002"}  # fmt: skip
        bad = example_release(example, "3", migration("0003_author.py"))
        second = _push(intake, bad)
        work(settings, redis_conn)
    record = store.get(second)
    assert record.state == "reverted", record.error
    assert "migrate" in (record.error or ""), record.error
    assert_cause(record, 'column "author" of relation "notes" contains null values')
    assert example.health() == {"status": "ok", "version": "2", "schema": "0002"}
    notes = requests.get(f"{example.url}/notes", timeout=5).json()["notes"]
    assert [n["text"] for n in notes] == ["before v2"]


def example_release(app: ExampleApp, version: str, files: dict[str, str]) -> str:
    """Commit a release as the walk-through does: the version and a migration; push it."""
    init = f'"""notes: a small JSON API over PostgreSQL."""\n\nVERSION = "{version}"\n'
    return git_repo.commit(
        app.author, {"notes/__init__.py": init, **files}, f"notes v{version}", "main"
    )
