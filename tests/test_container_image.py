"""deployhook's own image: built from the Dockerfile, non-root, with its tools, and healthy; and
the repository's compose.yml run from it: its web and worker containers (with their Redis)
deploy the sample app through the mounted engine socket, on a signed push to the web one.

One module for both, so the image is built once per run (about 35 s of a busy core)."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests

# The private Docker engine and base image come from the shared test bed (tests/support).
pytest.importorskip("tests.support.docker_fixtures", reason="the Docker test bed is not merged")

from config import Settings
from jobs.state.records import DeployStore
from tests.support import drills
from tests.support.compose_stack import compose_images, compose_stack
from tests.support.deliveries import github_headers, github_push
from tests.support.deployhook_image import REPO, Engine, build_image, run
from tests.support.deploying import SECRET, config_for, push, wait_for, write_config
from tests.support.failures import assert_cause
from tests.support.redis_server import running_redis
from tests.support.sample_app import SampleApp
from tests.support.web import free_port

pytestmark = pytest.mark.docker
PACKAGED = ("templates/deploy.html", "static/deploy.js", "static/openapi.json")
MISSING_FILES = (
    "import sys, importlib.resources as r; w = r.files('webhook');"
    "print(*[name for name in sys.argv[1:] if not w.joinpath(name).is_file()])"
)
SECRET_ENV = "CRM_WEBHOOK_SECRET=s3cret-for-the-tests"
HEALTHY_WITHIN = 120  # an upper bound for a slow machine, not a speed requirement
DEPLOYED_WITHIN = 300  # an upper bound for a loaded machine, not a speed requirement


@pytest.fixture(scope="module")
def deployhook_image(
    docker_engine: Engine, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    return build_image(base_image, docker_engine.env, tmp_path_factory.mktemp("image"))


def _config(directory: Path, port: int) -> Path:
    text = (REPO / "config" / "deployhook.example.yml").read_text()
    path = directory / "deployhook.yml"
    path.write_text(text.replace("bind: 127.0.0.1:8080", f"bind: 127.0.0.1:{port}"))
    path.chmod(0o644)
    return path


def test_image_is_non_root_with_its_tools(deployhook_image: str, docker_engine: Engine) -> None:
    """The image runs as a non-root user with git, ssh, docker, compose, pg_dump, restic, age,
    sops and its pages."""
    env = docker_engine.env
    script = (
        "id -u; git --version; docker --version; docker-compose version; pg_dump --version;"
        " ssh -V 2>&1; restic version; age --version | sed 's/^/age /';"
        " sops --version --disable-version-check"
    )
    shown = run(
        ["docker", "run", "--rm", "--network", "host", "--entrypoint", "sh", deployhook_image,
         "-c", script], env=env,
    ).stdout  # fmt: skip
    uid, *versions = shown.splitlines()
    assert uid == "10001", f"expected the deployhook user's uid 10001, got {uid}"
    tools = (
        "git version", "Docker version", "Docker Compose", "pg_dump (PostgreSQL)", "OpenSSH_",
        "restic ", "age ", "sops ",
    )  # fmt: skip
    for expected in tools:
        assert any(line.startswith(expected) for line in versions), (expected, versions)
    config = json.loads(run(["docker", "image", "inspect", deployhook_image], env=env).stdout)
    settings = config[0]["Config"]
    assert settings["Entrypoint"] == ["deployhook"] and settings["User"] == "deployhook"
    assert settings["Healthcheck"]["Test"][-1] == "webhook.healthcheck"
    missing = run(
        ["docker", "run", "--rm", "--network", "host", "--entrypoint", "python", deployhook_image,
         "-c", MISSING_FILES, *PACKAGED], env=env,
    ).stdout.strip()  # fmt: skip
    assert missing == "", f"expected the pages' files in the installed package, missing: {missing}"


def test_image_checks_a_mounted_config(
    deployhook_image: str, docker_engine: Engine, tmp_path: Path
) -> None:
    """`deployhook check-config` in the container reads the mounted configuration."""
    config = _config(tmp_path, 8080)
    shown = run(
        ["docker", "run", "--rm", "--network", "host", "-e", SECRET_ENV,
         "-v", f"{config}:/etc/deployhook/deployhook.yml:ro", deployhook_image, "check-config"],
        env=docker_engine.env,
    ).stdout  # fmt: skip
    assert shown.startswith("configuration OK: 1 project(s)"), shown


@pytest.fixture
def tcp_redis(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with running_redis(tmp_path, port=port):
        yield f"redis://127.0.0.1:{port}/0"


def _health(name: str, env: dict[str, str]) -> str:
    """Wait until Docker has judged the container's health; its final status and logs."""
    status = "starting"
    deadline = time.monotonic() + HEALTHY_WITHIN
    while status == "starting" and time.monotonic() < deadline:
        time.sleep(1)
        status = run(["docker", "inspect", "-f", "{{.State.Health.Status}}", name], env=env).stdout
        status = status.strip()
    logs = run(["docker", "logs", name], env=env, check=False)
    return f"{status}\n{logs.stdout}{logs.stderr}"


@contextmanager
def container(env: dict[str, str], name: str, *argv: str, grace: str = "60s") -> Iterator[str]:
    """`docker run -d` with a fast health interval; removed (with -f) afterwards.

    During the `grace` period (start period) failed checks do not count, so an app gets time
    to start; a single passing check still makes the container healthy at once.
    """
    checks = ["--health-interval", "1s", "--health-retries", "2", "--health-start-period", grace]
    run(["docker", "run", "-d", "--name", name, "--network", "host", *checks, *argv], env=env)
    try:
        yield name
    finally:
        run(["docker", "rm", "-f", name], env=env, check=False)


@pytest.mark.parametrize(("serves_healthz", "expected"), [(True, "healthy"), (False, "unhealthy")])
def test_image_health_follows_healthz(
    deployhook_image: str, docker_engine: Engine, serves_healthz: bool, expected: str
) -> None:
    """Docker calls the container healthy exactly when DEPLOYHOOK_HEALTH_URL answers 2xx."""
    port = free_port()
    site = "mkdir -p /tmp/site && cd /tmp/site" + (" && touch healthz" if serves_healthz else "")
    server = f"exec python3 -m http.server {port} --bind 127.0.0.1"
    with container(
        docker_engine.env, f"deployhook-health-{port}",
        "-e", f"DEPLOYHOOK_HEALTH_URL=http://127.0.0.1:{port}/healthz",
        "--entrypoint", "sh", deployhook_image, "-c", f"{site} && {server}", grace="3s",
    ) as name:  # fmt: skip
        status = _health(name, docker_engine.env)
    assert status.startswith(f"{expected}\n"), status


@pytest.mark.skipif(
    not (REPO / "webhook" / "app.py").exists(),
    reason="`deployhook serve` arrives with the intake app (webhook/app.py), not merged yet",
)
def test_container_serves_healthz(
    deployhook_image: str, docker_engine: Engine, tcp_redis: str, tmp_path: Path
) -> None:
    """A container started with `serve` answers /healthz and Docker reports it healthy."""
    port = free_port()
    config = _config(tmp_path, port)
    with container(
        docker_engine.env, f"deployhook-serve-{port}",
        "-e", SECRET_ENV, "-e", f"DEPLOYHOOK_REDIS_URL={tcp_redis}",
        "-e", f"DEPLOYHOOK_HEALTH_URL=http://127.0.0.1:{port}/healthz",
        "-v", f"{config}:/etc/deployhook/deployhook.yml:ro", deployhook_image, "serve",
    ) as name:  # fmt: skip
        status = _health(name, docker_engine.env)
        assert status.startswith("healthy\n"), status
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            assert answer.status == 200


def test_worker_as_pid_1_killed_mid_build_is_recovered_after_restart(
    deployhook_image: str,
    docker_engine: Engine,
    sample_app: SampleApp,
    tcp_redis: str,
    tmp_path: Path,
) -> None:
    """The image's worker runs as PID 1 on the host's name (as compose.yml runs it); SIGKILLed
    during a build and started again, the new PID 1 knows its predecessor is dead and reverts
    the half-done deploy: checkout and version back as they were."""
    env = docker_engine.env
    backups = sample_app.backups_dir
    backups.mkdir(parents=True, exist_ok=True)
    config = config_for(sample_app.environment_config(), Path("/var/lib/deployhook"), tcp_redis)
    config_file = write_config(config, tmp_path / "deployhook.yml")
    config_file.chmod(0o644)
    run(["chmod", "-R", "a+rwX", str(sample_app.root), str(backups)])
    before, version = sample_app.checked_out(), sample_app.running_version()
    dockerfile = (sample_app.checkout / "Dockerfile").read_text()
    slow = sample_app.commit({"Dockerfile": dockerfile + "RUN sleep 120\n"}, "a slow build")
    run(["chmod", "-R", "a+rwX", str(sample_app.root)])
    socket = docker_engine.host.removeprefix("unix://")
    name = f"deployhook-worker-{free_port()}"
    run(
        ["docker", "run", "-d", "--name", name, "--network", "host",
         "--group-add", str(os.stat(socket).st_gid), "-v", f"{socket}:/var/run/docker.sock",
         "-v", f"{sample_app.root}:{sample_app.root}", "-v", f"{backups}:{backups}",
         "-v", f"{config_file}:/etc/deployhook/deployhook.yml:ro", deployhook_image, "worker"],
        env=env,
    )  # fmt: skip
    try:
        connection = redis.Redis.from_url(tcp_redis)
        store = DeployStore(connection)
        queued = push(connection, Settings.model_validate(config), slow)
        wait_for(lambda: drills.last_stage(store, queued.id) == "build", 300, "the build")
        assert str(store.get(queued.id).worker).split(":")[1] == "1"  # PID 1 in the container
        time.sleep(3)  # well inside the 120 s build
        run(["docker", "kill", "--signal", "KILL", name], env=env)
        assert store.get(queued.id).state == "running"
        run(["docker", "start", name], env=env)
        wait_for(lambda: store.get(queued.id).state != "running", 300, "the recovery")
        record = store.get(queued.id)
        logs = run(["docker", "logs", name], env=env, check=False)
        assert record.state == "reverted", f"{record.error}\n{logs.stdout}{logs.stderr}"
        assert "found at worker start" in str(record.error)
        assert_cause(record, "the worker stopped during build")
        assert sample_app.checked_out() == before
        assert sample_app.running_version() == version
    finally:
        run(["docker", "rm", "-f", name], env=env, check=False)


@pytest.fixture
def stack(
    deployhook_image: str,
    sample_app: SampleApp,
    docker_engine: Engine,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, list[str], dict[str, str]]]:
    """compose.yml up from the image under test: the intake's URL, compose argv and env."""
    context = tmp_path_factory.mktemp("redis-image")
    images = compose_images(deployhook_image, docker_engine.env, context)
    with compose_stack(images, sample_app, docker_engine, tmp_path) as running:
        yield running


def test_compose_stack_deploys_through_the_socket(
    stack: tuple[str, list[str], dict[str, str]], sample_app: SampleApp
) -> None:
    """A signed push to the web container is deployed by the worker container: the sample
    app's checkout moves to the pushed commit and version 2 serves."""
    intake, compose, env = stack
    sha = sample_app.good_change()
    body = github_push(sha, "example.com/acme/sample")
    answer = requests.post(
        f"{intake}/hooks/sample", data=body, headers=github_headers(body, secret=SECRET), timeout=10
    )
    assert answer.status_code == 202, answer.text
    deploy_id = answer.json()["deploy_id"]
    # The web container holds no engine socket, no checkouts and no backups.
    web = [*compose, "exec", "-T", "web"]
    for path in ("/var/run/docker.sock", str(sample_app.root)):
        assert run([*web, "test", "-e", path], env=env, check=False).returncode == 1, path
    # Reading needs an identity: a viewer made the documented way, in the web container.
    run([*web, "deployhook", "user", "add", "ci", "--role", "viewer", "--no-password"], env=env)
    made = run([*web, "deployhook", "token", "create", "ci", "--role", "viewer"], env=env)
    bearer = {"Authorization": f"Bearer {made.stdout.strip()}"}
    deadline, state = time.monotonic() + DEPLOYED_WITHIN, "queued"
    while time.monotonic() < deadline and state not in ("succeeded", "failed", "reverted"):
        time.sleep(0.5)
        shown = requests.get(f"{intake}/api/deploys/{deploy_id}", headers=bearer, timeout=10)
        state = shown.json()["state"]
    if state != "succeeded":
        logs = run([*compose, "logs", "--no-color", "--tail", "40"], env=env, check=False)
        pytest.fail(f"expected the deploy to succeed, got {state}:\n{logs.stdout[-4000:]}")
    assert sample_app.checked_out() == sha and sample_app.running_version() == "2"
