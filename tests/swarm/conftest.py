"""The swarm bed for a module: three engines in namespaces of the test's own, a registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.docker_engine import Engine
from tests.support.swarm_app import SwarmApp
from tests.support.swarm_bed import SwarmBed, running_swarm


@pytest.fixture(scope="module")
def swarm_bed(docker_engine: Engine) -> Iterator[SwarmBed]:
    """A real three-node swarm (one manager) and a registry, torn down after the module."""
    with running_swarm() as bed:
        yield bed


@pytest.fixture(scope="module")
def swarm_app(
    swarm_bed: SwarmBed, docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> SwarmApp:
    """The swarm sample app's origin and checkout at v1 (nothing deployed yet)."""
    return SwarmApp.create(swarm_bed, docker_engine, tmp_path_factory.mktemp("swarm-app"))
