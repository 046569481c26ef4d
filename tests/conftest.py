"""Shared fixtures: a real Redis server for the session, flushed around each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.redis_server import running_redis

pytest_plugins = ["tests.support.docker_fixtures"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    connection.flushall()
    yield connection
    connection.flushall()
    connection.close()


@pytest.fixture
def example_config_path() -> Path:
    return Path(__file__).resolve().parent.parent / "config" / "deployhook.example.yml"
