"""Helpers for the status page tests: an app with only the status surface, and deploy records."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask
from redis import Redis

from config import Secret, Settings, load_settings
from jobs.state.records import Deploy, DeployStore, StageRecord, new_deploy_id
from webhook.status import register

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "config" / "deployhook.example.yml"
TOKEN = "operator-token-for-tests"


def example_settings(token: str | None = None) -> Settings:
    settings = load_settings(EXAMPLE, {"CRM_WEBHOOK_SECRET": "webhook-secret-never-shown"})
    if token is None:
        return settings
    server = settings.server.model_copy(update={"token": Secret(token)})
    return settings.model_copy(update={"server": server})


def status_app(connection: Redis, settings: Settings | None = None) -> Flask:
    """A bare Flask app with only the status surface registered, as create_app will do."""
    app = Flask("status-test")
    register(app, settings or example_settings(), connection)
    return app


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
