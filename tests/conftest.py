"""Shared fixtures: a real Redis server for the session, flushed around each test, and a
loopback server standing in for GitHub, GitLab, Gitea, Slack and JSON webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pytest_httpserver import HTTPServer

from tests.support.provider_server import ProviderServer
from tests.support.redis_server import running_redis

pytest_plugins = ["tests.support.docker_fixtures", "tests.support.module_order"]


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


@pytest.fixture(scope="session")
def http_server() -> Iterator[HTTPServer]:
    # One server for the session: stopping one takes half a second.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def provider(http_server: HTTPServer) -> Iterator[ProviderServer]:
    http_server.clear()
    yield ProviderServer(http_server)
    http_server.clear()
