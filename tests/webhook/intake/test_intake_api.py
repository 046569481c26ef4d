"""Health, deploy API, error handling, logs and start-up of the intake app."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from jobs.state.records import DeployStore
from tests.support.deliveries import (
    GITHUB_SECRET,
    encode,
    github_headers,
    make_settings,
    payload,
    post_github,
)
from webhook.app import create_app
from webhook.logs import JsonFormatter


def test_deploy_api(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """GET /api/deploys/<id> shows the record and its log; unknown 404, malformed 400."""
    deploy_id = post_github(client, payload("github-push.json")).json["deploy_id"]
    DeployStore(redis_conn).append_log(deploy_id, "backup: ok")
    shown = client.get(f"/api/deploys/{deploy_id}")
    assert shown.status_code == 200
    assert (shown.json["id"], shown.json["state"], shown.json["log"]) == (
        deploy_id,
        "queued",
        ["backup: ok"],
    )
    assert client.get("/api/deploys/d-20260101-000000-abcdef").status_code == 404
    assert client.get("/api/deploys/..%2Fetc").status_code in (400, 404)
    assert client.get("/api/deploys/not-an-id").status_code == 400


def test_healthz_ok(client: FlaskClient) -> None:
    """/healthz says ok for Redis and config when both are fine."""
    response = client.get("/healthz")
    assert (response.status_code, response.json) == (200, {"redis": "ok", "config": "ok"})


def test_every_error_is_json(client: FlaskClient) -> None:
    """Unknown URLs and wrong methods answer JSON errors, not HTML."""
    for response in (client.get("/nowhere"), client.get("/hooks/crm")):
        assert response.is_json
        assert set(response.json) == {"error"}


def test_status_url_uses_public_url(
    redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """With server.public_url set, status_url points there instead of the request host."""
    settings = make_settings(tmp_path, redis_url)
    public = settings.model_copy(
        update={
            "server": settings.server.model_copy(
                update={"public_url": "https://deploy.example.com/"}
            )
        }
    )
    response = post_github(create_app(public).test_client(), payload("github-push.json"))
    assert response.json["status_url"].startswith("https://deploy.example.com/api/deploys/d-")


def test_log_line_has_ids_and_no_secrets(
    client: FlaskClient, redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Each delivery logs one JSON line with delivery and deploy ids, never secret or payload."""
    caplog.set_level(logging.INFO, logger="deployhook")
    response = post_github(client, payload("github-push.json"), delivery="guid-log")
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "deployhook.intake"]
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["delivery"] == "guid-log"
    assert entry["deploys"] == [response.json["deploy_id"]]
    assert (entry["result"], entry["status"]) == ("accepted", 202)
    assert GITHUB_SECRET not in lines[0]
    assert "Migrate invoices" not in lines[0]


def test_no_redis_url_refuses_to_start(tmp_path: Path) -> None:
    """Without a Redis URL the app does not start and says how to give one."""
    from config import ConfigError

    with pytest.raises(ConfigError, match="DEPLOYHOOK_REDIS_URL"):
        create_app(make_settings(tmp_path, None))


def test_unexpected_error_is_json_500(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected exception answers a JSON 500 and logs its type and place, not its text."""

    def explode() -> str:
        raise RuntimeError("payload secret text")

    app.add_url_rule("/explode", view_func=explode)
    caplog.set_level(logging.INFO, logger="deployhook")
    response = app.test_client().get("/explode")
    assert (response.status_code, response.json) == (
        500,
        {"error": "internal error: see the server log"},
    )
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["exception"] == "RuntimeError"
    assert "in explode" in line["where"]
    assert "payload secret text" not in json.dumps(line)


def test_refused_delivery_is_logged_with_its_claimed_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A forged delivery's log line carries the id it claims (if well-formed), for tracing."""
    caplog.set_level(logging.INFO, logger="deployhook")
    body = encode(payload("github-push.json"))
    for claimed in ("guid-forged", "odd id: with spaces"):
        headers = github_headers(body, delivery=claimed, secret="wrong")
        assert client.post("/hooks/crm", data=body, headers=headers).status_code == 401
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    assert [(line["delivery"], line["result"]) for line in lines] == [
        ("guid-forged", "unauthorized"),
        ("", "unauthorized"),
    ]
