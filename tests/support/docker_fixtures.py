"""Pytest plugin: the private Docker engine, the test images and the running sample app.

`docker_engine` also points this process's environment at the private engine for the rest of
the session (DOCKER_HOST, DOCKER_CONFIG, the venv's bin first on PATH), so code under test that
runs `docker` or `docker-compose` as subprocesses, or docker.from_env(), reaches it unchanged.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.commands import BedError, run
from tests.support.docker_engine import Engine, running_engine
from tests.support.images import (
    build_busybox_image,
    build_caddy_image,
    build_nginx_image,
    import_base_image,
)
from tests.support.lent_app import LentApp
from tests.support.proxied_app import ProxiedApp
from tests.support.sample_app import SampleApp
from tests.support.zdt_bed import BedStarter, running_bed

POINTED = ("DOCKER_HOST", "DOCKER_CONFIG", "PATH")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    """A private dockerd for the session, which os.environ points at while it runs."""
    with running_engine() as engine:
        saved = {name: os.environ.get(name) for name in POINTED}
        os.environ.update({name: engine.env[name] for name in POINTED})
        try:
            yield engine
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture(scope="session")
def compose_command(docker_engine: Engine) -> list[str]:
    """The Compose CLI as an argv prefix: the venv's docker-compose, else the docker plugin."""
    return find_compose(docker_engine)


def find_compose(engine: Engine) -> list[str]:
    """The venv's docker-compose, else the `docker compose` plugin of `engine`'s CLI."""
    beside = Path(sys.executable).parent / "docker-compose"
    found = str(beside) if beside.exists() else shutil.which("docker-compose")
    if found:
        return [found]
    plugin = run(["docker", "compose", "version"], env=engine.env, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    raise BedError(
        "expected docker-compose in the venv or a docker compose plugin, got neither;"
        " run scripts/venv test"
    )


@pytest.fixture(scope="session")
def base_image(docker_engine: Engine) -> str:
    """The Debian base image (python3, PostgreSQL 15, alembic) in the private engine."""
    return import_base_image(docker_engine.env)


@pytest.fixture(scope="session")
def busybox_image(docker_engine: Engine) -> str:
    """A tiny busybox image (sh, httpd) in the private engine."""
    return build_busybox_image(docker_engine.env)


@pytest.fixture(scope="session")
def caddy_image(docker_engine: Engine, base_image: str) -> str:
    """Debian's Caddy (the host's binary) on the base image, for stacks behind a real proxy."""
    return build_caddy_image(docker_engine.env, base_image)


@pytest.fixture(scope="session")
def nginx_image(docker_engine: Engine, base_image: str) -> str:
    """Debian's nginx-light (the host's binary) on the base image: the matrix's second proxy."""
    return build_nginx_image(docker_engine.env, base_image)


@pytest.fixture(scope="session")
def start_proxy_bed(
    docker_engine: Engine,
    compose_command: list[str],
    base_image: str,
    caddy_image: str,
    nginx_image: str,
) -> BedStarter:
    """`start_proxy_bed(root, **options)`: a zero-downtime bed (tests/support/zdt_bed.py)
    started under `root` for a `with` block, and stopped after it."""
    images = (base_image, caddy_image, nginx_image)
    return functools.partial(running_bed, docker_engine, compose_command, images=images)


@pytest.fixture
def sample_app(
    docker_engine: Engine, compose_command: list[str], base_image: str, tmp_path: Path
) -> Iterator[SampleApp]:
    """A fresh sample app at v1, running and healthy; its containers stop afterwards."""
    app = SampleApp.create(docker_engine, compose_command, base_image, tmp_path)
    yield app
    app.stop()


@pytest.fixture(scope="module")
def module_sample_app(
    docker_engine: Engine,
    compose_command: list[str],
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SampleApp]:
    """One sample app at v1 for a whole module, whose tests take it as the last one left it."""
    app = SampleApp.create(
        docker_engine, compose_command, base_image, tmp_path_factory.mktemp("app")
    )
    yield app
    app.stop()


@pytest.fixture(scope="module")
def sample_app_lender(
    docker_engine: Engine,
    compose_command: list[str],
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LentApp]:
    """One sample app for a module whose tests each leave it as they found it (lent_app.py)."""
    lender = LentApp(
        lambda: SampleApp.create(
            docker_engine, compose_command, base_image, tmp_path_factory.mktemp("app")
        )
    )
    yield lender
    lender.close()


@pytest.fixture
def lent_sample_app(sample_app_lender: LentApp) -> Iterator[SampleApp]:
    """The module's sample app at v1, which this test must leave as it found it."""
    yield sample_app_lender.lend()
    sample_app_lender.take_back()


@pytest.fixture(scope="module")
def proxied(
    docker_engine: Engine,
    compose_command: list[str],
    base_image: str,
    caddy_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProxiedApp]:
    """The sample app behind Caddy at v1, running and healthy, for the whole module."""
    root = tmp_path_factory.mktemp("proxied")
    app = ProxiedApp.create_proxied(docker_engine, compose_command, (base_image, caddy_image), root)
    yield app
    app.stop()
