"""Drill fixtures: the sample app's environment, reports to a loopback JSON webhook stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import Settings
from tests.support.deploying import config_for
from tests.support.provider_server import WEBHOOK, ProviderServer
from tests.support.report_setup import FAST_DELIVERY, WEBHOOK_KEY


@pytest.fixture
def config(
    sample_app: Any, tmp_path: Path, redis_url: str, provider: ProviderServer
) -> dict[str, Any]:
    config = config_for(sample_app.environment_config(), tmp_path / "state", redis_url)
    webhook = {"url": provider.url(WEBHOOK), "secret": WEBHOOK_KEY, "allow_http": True}
    config["notify"] = {"webhook": webhook, "delivery": FAST_DELIVERY}
    return config


@pytest.fixture
def settings(config: dict[str, Any]) -> Settings:
    return Settings.model_validate(config)
