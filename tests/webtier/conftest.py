"""Fixtures for the web-tier tests: the intake app on test settings and the real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.support.deliveries import make_settings
from webhook.app import create_app


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> Flask:
    return create_app(make_settings(tmp_path, redis_url))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
