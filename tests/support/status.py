"""Helpers for the status page tests: an app with only the status surface, and deploy records."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from config import Settings, load_settings
from jobs.state.records import Deploy, DeployStore, StageRecord, new_deploy_id
from tests.support.users import TOKENS, signed_in_client, with_test_users
from webhook.status import register

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "config" / "deployhook.example.yml"
TOKEN = TOKENS["deployer"]  # may run actions


def example_settings() -> Settings:
    """The example configuration with the test users (a token for each role, see TOKENS)."""
    settings = load_settings(EXAMPLE, {"CRM_WEBHOOK_SECRET": "webhook-secret-never-shown"})
    return with_test_users(settings)


def status_app(
    connection: Redis, settings: Settings | None = None, role: str | None = "viewer"
) -> Flask:
    """The status surface behind the sign-in guard, as create_app builds it; its test client
    signs in with `role`'s token (None: anonymous)."""
    app = Flask("status-test")
    chosen = settings or example_settings()
    register(app, chosen, connection)
    app.test_client_class = signed_in_client(role)
    return app


def anonymous(app: Flask) -> FlaskClient:
    return FlaskClient(app, app.response_class, use_cookies=True)


def make_deploy(store: DeployStore, environment: str = "dev", **fields: Any) -> Deploy:
    """Create a queued deploy record for crm/<environment>, then apply `fields` as saved."""
    deploy = Deploy(
        id=new_deploy_id(),
        project="crm",
        environment=environment,
        ref_kind="branch",
        ref_name="main",
        sha="0123456789abcdef0123456789abcdef01234567",
        trigger="github push",
        delivery_id="guid-1",
        sender="octocat",
    )
    store.create(deploy)
    if fields:
        deploy = replace(deploy, **fields)
        store.save(deploy)
    return deploy


def stage(name: str, start: str, end: str | None, outcome: str = "ok") -> StageRecord:
    return StageRecord(name, start, end, outcome, f"{name} detail")  # type: ignore[arg-type]


def set_json(connection: Redis, key: str, value: object) -> None:
    connection.set(key, json.dumps(value))
