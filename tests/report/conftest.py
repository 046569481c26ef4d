"""Reporter fixtures: a loopback provider server and a deploy store on the real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from pytest_httpserver import HTTPServer

from jobs.record import DeployStore
from tests.support.provider_server import ProviderServer


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


@pytest.fixture
def store(redis_conn: redis.Redis) -> DeployStore:
    return DeployStore(redis_conn)
