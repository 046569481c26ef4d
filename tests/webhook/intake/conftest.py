"""The intake app on the test settings and the session's real Redis, with its test client."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.support.deliveries import make_settings
from tests.support.users import signed_in_client
from webhook.app import create_app


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> Flask:
    made = create_app(make_settings(tmp_path, redis_url))
    made.test_client_class = signed_in_client("viewer")  # everything but /hooks needs an identity
    return made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
