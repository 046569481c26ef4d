"""Drill fixtures: the sample app's environment, reports to a loopback JSON webhook stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from config import Settings
from tests.support.deploying import config_for
from tests.support.provider_server import WEBHOOK, ProviderServer
from tests.support.report_setup import FAST_DELIVERY


@pytest.fixture(scope="session")
def drill_http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def reports(drill_http_server: HTTPServer) -> Iterator[ProviderServer]:
    """The loopback stand-in that the real reporting consumer sends JSON webhook events to."""
    drill_http_server.clear()
    yield ProviderServer(drill_http_server)
    drill_http_server.clear()


@pytest.fixture
def config(
    sample_app: Any, tmp_path: Path, redis_url: str, reports: ProviderServer
) -> dict[str, Any]:
    config = config_for(sample_app.environment_config(), tmp_path / "state", redis_url)
    config["notify"] = {"webhook": {"url": reports.url(WEBHOOK)}, "delivery": FAST_DELIVERY}
    return config


@pytest.fixture
def settings(config: dict[str, Any]) -> Settings:
    return Settings.model_validate(config)
