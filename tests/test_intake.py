"""`POST /hooks/<project>` through Flask's test client against a real Redis."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue

from jobs.record import DeployStore
from tests.support.deliveries import (
    GITHUB_SECRET,
    GITLAB_SECRET,
    encode,
    gitea_headers,
    github_headers,
    gitlab_headers,
    make_settings,
    payload,
)
from webhook.app import create_app
from webhook.logs import JsonFormatter
from webhook.metrics import delivery_counts

GITHUB_AFTER = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
GITLAB_CHECKOUT = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> Flask:
    return create_app(make_settings(tmp_path, redis_url))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _jobs(connection: redis.Redis) -> list[str]:
    return Queue("deploys.local", connection=connection).job_ids


def _post_github(
    client: FlaskClient, data: dict[str, Any], event: str = "push", delivery: str | None = None
) -> Any:
    body = encode(data)
    return client.post("/hooks/crm", data=body, headers=github_headers(body, event, delivery))


def test_github_push_is_queued(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """A signed GitHub push to main queues one deploy of `after` to dev and answers 202."""
    response = _post_github(client, payload("github-push.json"))
    assert response.status_code == 202, response.json
    answer = response.json
    assert (answer["environment"], answer["sha"]) == ("dev", GITHUB_AFTER)
    assert answer["status_url"] == f"http://localhost/api/deploys/{answer['deploy_id']}"
    assert answer["deploys"] == [{"deploy_id": answer["deploy_id"], "environment": "dev"}]
    assert _jobs(redis_conn) == [answer["deploy_id"]]
    record = DeployStore(redis_conn).get(answer["deploy_id"])
    assert (record.trigger, record.ref_name, record.sender) == ("github push", "main", "mona")
    assert record.before_sha == "9049f1265b7d61be4a8904a9a27120d2064dab3b"
    assert delivery_counts(redis_conn) == {"github:accepted": 1}


def test_redelivery_answers_first_deploy(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """The same delivery again answers 200 with the first deploy id and queues nothing."""
    first = _post_github(client, payload("github-push.json"), delivery="guid-7")
    again = _post_github(client, payload("github-push.json"), delivery="guid-7")
    assert first.status_code == 202
    assert (again.status_code, again.json) == (200, {"duplicate_of": first.json["deploy_id"]})
    assert len(_jobs(redis_conn)) == 1
    assert delivery_counts(redis_conn) == {"github:accepted": 1, "github:duplicate": 1}


def test_form_encoded_github_body(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """GitHub's form-encoded body (payload=...) is verified as sent and then decoded."""
    body = urlencode({"payload": json.dumps(payload("github-push.json"))}).encode()
    headers = github_headers(body) | {"Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/hooks/crm", data=body, headers=headers)
    assert response.status_code == 202, response.json
    assert response.json["sha"] == GITHUB_AFTER


def test_github_annotated_tag_deploys_head_commit(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    """A v* tag deploys prod at head_commit.id, not at the tag object in `after`."""
    data = payload("github-push.json")
    data.update(ref="refs/tags/v1.4.0", before="0" * 40, after="c" * 40, created=True)
    response = _post_github(client, data)
    assert response.status_code == 202, response.json
    assert (response.json["environment"], response.json["sha"]) == ("prod", GITHUB_AFTER)
    record = DeployStore(redis_conn).get(response.json["deploy_id"])
    assert (record.ref_kind, record.trigger) == ("tag", "github tag push")


def test_ping_answers_200(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """GitHub's ping is answered 200 and queues nothing."""
    response = _post_github(client, {"zen": "Keep it logically awesome.", "hook_id": 1}, "ping")
    assert response.status_code == 200
    assert "ping" in response.json["ignored"]
    assert _jobs(redis_conn) == []


@pytest.mark.parametrize(
    ("event", "change", "reason"),
    [
        ("push", {"deleted": True, "after": "0" * 40, "head_commit": None}, "was deleted"),
        ("push", {"ref": "refs/heads/feature/x"}, "no environment deploys branch feature/x"),
        ("push", {"ref": "refs/notes/commits"}, "neither a branch nor a tag"),
        ("issues", {}, "'issues' does not deploy"),
    ],
)
def test_ignored_deliveries(
    client: FlaskClient, redis_conn: redis.Redis, event: str, change: dict[str, Any], reason: str
) -> None:
    """Deleted refs, unrouted refs and other events are 200 `ignored`, never 4xx."""
    data = payload("github-push.json") | change
    response = _post_github(client, data, event)
    assert response.status_code == 200
    assert reason in response.json["ignored"]
    assert _jobs(redis_conn) == []
    assert delivery_counts(redis_conn) == {"github:ignored": 1}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "does not match"),
        ({"X-Hub-Signature-256": None, "X-Hub-Signature": "sha1=" + "0" * 40}, "SHA-1"),
        ({"X-Hub-Signature-256": None}, "missing X-Hub-Signature-256"),
        ({"X-Hub-Signature-256": "sha256=xyz"}, "malformed"),
        ({"X-GitHub-Event": None}, "not a git host webhook"),
        ({"X-Gitlab-Event": "Push Hook"}, "takes github webhooks, not gitlab"),
    ],
)
def test_unauthorized(
    client: FlaskClient, redis_conn: redis.Redis, headers: dict[str, str | None], message: str
) -> None:
    """Bad or missing signatures and foreign providers are 401 and nothing is queued."""
    body = encode(payload("github-push.json"))
    sent = github_headers(body) | headers
    response = client.post(
        "/hooks/crm", data=body, headers={k: v for k, v in sent.items() if v is not None}
    )
    assert response.status_code == 401
    assert message in response.json["error"]
    assert GITHUB_SECRET not in response.get_data(as_text=True)
    assert _jobs(redis_conn) == []


def test_repository_mismatch_is_403(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """A correctly signed push from another repository (or host) deploys nothing: 403."""
    for change in ({"full_name": "acme/billing"}, {"html_url": "https://evil.example/acme/crm"}):
        data = payload("github-push.json")
        data["repository"].update(change)
        response = _post_github(client, data)
        assert response.status_code == 403, change
        assert "repository" in response.json["error"]
    data = payload("github-push.json")
    data["repository"]["full_name"] = "ACME/Crm"
    assert _post_github(client, data).status_code == 202  # owner/name compare ignores case
    assert len(_jobs(redis_conn)) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"[" * 100_000, "not valid JSON"),
        (b'{"ref": "refs/heads/main"}', "repository: missing"),
        (b'{"ref": "refs/heads/ma..in", "before": "x"}', "ref:"),
    ],
)
def test_malformed_body_is_400(
    client: FlaskClient, redis_conn: redis.Redis, body: bytes, message: str
) -> None:
    """A signed but malformed body is a short 400, never a 500."""
    response = client.post("/hooks/crm", data=body, headers=github_headers(body))
    assert response.status_code == 400
    assert message in response.json["error"]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-GitHub-Delivery", None),
        ("X-GitHub-Delivery", "a" * 129),
        ("X-GitHub-Delivery", "guid:with:colons"),
        ("X-GitHub-Hook-ID", "12ab"),
    ],
)
def test_malformed_delivery_id_is_400(
    client: FlaskClient, redis_conn: redis.Redis, header: str, value: str | None
) -> None:
    """Delivery ids become Redis keys, so odd or oversized ones are refused with 400."""
    body = encode(payload("github-push.json"))
    sent = github_headers(body) | {header: value}
    response = client.post(
        "/hooks/crm", data=body, headers={k: v for k, v in sent.items() if v is not None}
    )
    assert response.status_code == 400
    assert header in response.json["error"]


def test_unknown_project_is_404_before_anything(client: FlaskClient) -> None:
    """An unknown project is 404 even for an unsigned, oversized body."""
    response = client.post("/hooks/nope", data=b"x" * 100, headers={"Content-Length": "999999999"})
    assert response.status_code == 404
    assert set(response.json) == {"error"}


def test_too_large_body_is_413(redis_url: str, redis_conn: redis.Redis, tmp_path: Path) -> None:
    """A body over server.max_body_bytes is 413, by Content-Length or while streaming."""
    settings = make_settings(tmp_path, redis_url)
    small = settings.model_copy(
        update={"server": settings.server.model_copy(update={"max_body_bytes": 4096})}
    )
    client = create_app(small).test_client()
    body = encode(payload("github-push.json"))
    response = client.post("/hooks/crm", data=body, headers=github_headers(body))
    assert response.status_code == 413
    streamed = client.post(
        "/hooks/crm",
        input_stream=io.BytesIO(body),
        headers=github_headers(body) | {"Transfer-Encoding": "chunked"},
        # What gunicorn sets for a chunked body: read the stream to its end.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert (streamed.status_code, streamed.json["error"]) == (
        413,
        "body exceeds the limit of 4096 bytes",
    )
    assert _jobs(redis_conn) == []
    assert delivery_counts(redis_conn) == {"github:too_large": 2}


def test_redis_down_is_503_and_writes_nothing(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """When Redis refuses writes, the answer is 503 with Retry-After and nothing is stored."""
    redis_conn.config_set("min-replicas-to-write", 1)
    try:
        response = _post_github(client, payload("github-push.json"))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "unavailable" in response.json["error"]
        assert redis_conn.dbsize() == 0
    finally:
        redis_conn.config_set("min-replicas-to-write", 0)


def test_unreachable_redis(tmp_path: Path) -> None:
    """With no Redis at all, pushes get 503 + Retry-After and /healthz names Redis as down."""
    settings = make_settings(tmp_path, f"unix://{tmp_path}/absent.sock")
    client = create_app(settings).test_client()
    response = _post_github(client, payload("github-push.json"))
    assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json["config"] == "ok"
    assert health.json["redis"].startswith("down")


def test_gitlab_push_with_signing_key(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """A GitLab push with token and Standard Webhooks signature deploys checkout_sha."""
    body = encode(payload("gitlab-push.json"))
    headers = gitlab_headers(body, message_id="msg_abc")
    response = client.post("/hooks/shop", data=body, headers=headers)
    assert response.status_code == 202, response.json
    assert response.json["sha"] == GITLAB_CHECKOUT
    # Redelivery reuses webhook-id but GitLab sends a new X-Gitlab-Event-UUID.
    again = client.post(
        "/hooks/shop", data=body, headers=gitlab_headers(body, message_id="msg_abc")
    )
    assert again.json == {"duplicate_of": response.json["deploy_id"]}


def test_gitlab_tag_push(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """A GitLab tag push deploys prod at checkout_sha with trigger 'gitlab tag push'."""
    body = encode(payload("gitlab-tag-push.json"))
    response = client.post(
        "/hooks/shop", data=body, headers=gitlab_headers(body, event="Tag Push Hook")
    )
    assert response.status_code == 202, response.json
    assert (response.json["environment"], response.json["sha"]) == ("prod", GITLAB_CHECKOUT)
    record = DeployStore(redis_conn).get(response.json["deploy_id"])
    assert record.trigger == "gitlab tag push"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token": "wrong"}, "X-Gitlab-Token"),
        ({"signing_key": None}, "missing webhook-id"),
        ({"signing_key": "whsec_" + "QUJD" * 8}, "webhook-signature does not match"),
        ({"when": datetime.now(UTC) - timedelta(minutes=6)}, "5 minutes"),
        ({"when": datetime.now(UTC) + timedelta(minutes=6)}, "5 minutes"),
    ],
)
def test_gitlab_refusals(
    client: FlaskClient, redis_conn: redis.Redis, change: dict[str, Any], message: str
) -> None:
    """Wrong token, missing or wrong signature, stale or future timestamp: all 401."""
    body = encode(payload("gitlab-push.json"))
    response = client.post("/hooks/shop", data=body, headers=gitlab_headers(body, **change))
    assert response.status_code == 401
    assert message in response.json["error"]
    assert _jobs(redis_conn) == []


def test_gitlab_malformed_signature_header_is_401(client: FlaskClient) -> None:
    """Garbage in the Standard Webhooks headers is 401, never 500."""
    body = encode(payload("gitlab-push.json"))
    for name, value in (("webhook-timestamp", "soon"), ("webhook-signature", "v1,@@@ ,, v1")):
        headers = gitlab_headers(body) | {name: value}
        assert client.post("/hooks/shop", data=body, headers=headers).status_code == 401


def test_gitlab_legacy_token_and_idempotency_key(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    """Without a signing key the token suffices; Idempotency-Key dedupes, not Event-UUID."""
    body = encode(payload("gitlab-push.json"))
    headers = gitlab_headers(body, signing_key=None)
    first = client.post("/hooks/legacy", data=body, headers=headers)
    assert first.status_code == 202, first.json
    again = client.post(
        "/hooks/legacy", data=body, headers=headers | {"X-Gitlab-Event-UUID": "other"}
    )
    assert again.json == {"duplicate_of": first.json["deploy_id"]}
    assert GITLAB_SECRET not in json.dumps(first.json)


def test_gitlab_deleted_branch_and_other_events_are_200(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    """GitLab pauses hooks after 4xx, so a deleted branch and a note event answer 200."""
    data = payload("gitlab-push.json") | {"after": "0" * 40, "checkout_sha": None}
    body = encode(data)
    response = client.post("/hooks/shop", data=body, headers=gitlab_headers(body))
    assert (response.status_code, "deleted" in response.json["ignored"]) == (200, True)
    note = encode({"object_kind": "note"})
    headers = gitlab_headers(note, event="Note Hook")
    assert client.post("/hooks/shop", data=note, headers=headers).status_code == 200
    assert _jobs(redis_conn) == []


def test_gitea_push(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """A Gitea push (which also carries GitHub headers) is recognised as Gitea and queued."""
    body = encode(payload("gitea-push.json"))
    response = client.post("/hooks/wiki", data=body, headers=gitea_headers(body))
    assert response.status_code == 202, response.json
    record = DeployStore(redis_conn).get(response.json["deploy_id"])
    assert record.trigger == "gitea push"
    # The same request to the GitHub project is refused: Gitea is detected first.
    assert client.post("/hooks/crm", data=body, headers=gitea_headers(body)).status_code == 401


def test_gitea_unsigned_is_401(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """Gitea sends an empty signature header when no secret is set: refused as unsigned."""
    body = encode(payload("gitea-push.json"))
    headers = gitea_headers(body) | {"X-Gitea-Signature": "", "X-Hub-Signature-256": ""}
    response = client.post("/hooks/wiki", data=body, headers=headers)
    assert response.status_code == 401
    assert "unsigned" in response.json["error"]


def test_forgejo_headers(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """Forgejo's X-Forgejo-* headers are accepted like Gitea's."""
    body = encode(payload("gitea-push.json"))
    headers = {
        key.replace("Gitea", "Forgejo"): value
        for key, value in gitea_headers(body).items()
        if "GitHub" not in key and "Hub" not in key
    }
    response = client.post("/hooks/wiki", data=body, headers=headers)
    assert response.status_code == 202, response.json


def test_deploy_api(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """GET /api/deploys/<id> shows the record and its log; unknown 404, malformed 400."""
    deploy_id = _post_github(client, payload("github-push.json")).json["deploy_id"]
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
    response = _post_github(create_app(public).test_client(), payload("github-push.json"))
    assert response.json["status_url"].startswith("https://deploy.example.com/api/deploys/d-")


def test_log_line_has_ids_and_no_secrets(
    client: FlaskClient, redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Each delivery logs one JSON line with delivery and deploy ids, never secret or payload."""
    caplog.set_level(logging.INFO, logger="deployhook")
    response = _post_github(client, payload("github-push.json"), delivery="guid-log")
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


@pytest.fixture(autouse=True)
def _no_leftover_config(redis_conn: redis.Redis) -> Iterator[None]:
    yield
    redis_conn.config_set("min-replicas-to-write", 0)


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
