"""`POST /hooks/<project>` for GitHub, and every status the route answers, against real Redis."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from flask.testing import FlaskClient

from jobs.state.counters import delivery_counts
from jobs.state.records import DeployStore
from tests.support.deliveries import (
    GITHUB_SECRET,
    encode,
    github_headers,
    make_settings,
    payload,
    post_github,
    queued_jobs,
)
from webhook.app import create_app

GITHUB_AFTER = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


def test_github_push_is_queued(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """A signed GitHub push to main queues one deploy of `after` to dev and answers 202."""
    response = post_github(client, payload("github-push.json"))
    assert response.status_code == 202, response.json
    answer = response.json
    assert (answer["environment"], answer["sha"]) == ("dev", GITHUB_AFTER)
    assert answer["status_url"] == f"http://localhost/api/deploys/{answer['deploy_id']}"
    assert answer["deploys"] == [{"deploy_id": answer["deploy_id"], "environment": "dev"}]
    assert queued_jobs(redis_conn) == [answer["deploy_id"]]
    record = DeployStore(redis_conn).get(answer["deploy_id"])
    assert (record.trigger, record.ref_name, record.sender) == ("github push", "main", "mona")
    assert record.before_sha == "9049f1265b7d61be4a8904a9a27120d2064dab3b"
    assert delivery_counts(redis_conn) == {"github:accepted": 1}


def test_redelivery_answers_first_deploy(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """The same delivery again answers 200 with the first deploy id and queues nothing."""
    first = post_github(client, payload("github-push.json"), delivery="guid-7")
    again = post_github(client, payload("github-push.json"), delivery="guid-7")
    assert first.status_code == 202
    assert (again.status_code, again.json) == (200, {"duplicate_of": first.json["deploy_id"]})
    assert len(queued_jobs(redis_conn)) == 1
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
    response = post_github(client, data)
    assert response.status_code == 202, response.json
    assert (response.json["environment"], response.json["sha"]) == ("prod", GITHUB_AFTER)
    record = DeployStore(redis_conn).get(response.json["deploy_id"])
    assert (record.ref_kind, record.trigger) == ("tag", "github tag push")


def test_ping_answers_200(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """GitHub's ping is answered 200 and queues nothing."""
    response = post_github(client, {"zen": "Keep it logically awesome.", "hook_id": 1}, "ping")
    assert response.status_code == 200
    assert "ping" in response.json["ignored"]
    assert queued_jobs(redis_conn) == []


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
    response = post_github(client, data, event)
    assert response.status_code == 200
    assert reason in response.json["ignored"]
    assert queued_jobs(redis_conn) == []
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
    assert queued_jobs(redis_conn) == []


def test_repository_mismatch_is_403(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """A correctly signed push from another repository (or host) deploys nothing: 403."""
    for change in ({"full_name": "acme/billing"}, {"html_url": "https://evil.example/acme/crm"}):
        data = payload("github-push.json")
        data["repository"].update(change)
        response = post_github(client, data)
        assert response.status_code == 403, change
        assert "repository" in response.json["error"]
    data = payload("github-push.json")
    data["repository"]["full_name"] = "ACME/Crm"
    assert post_github(client, data).status_code == 202  # owner/name compare ignores case
    assert len(queued_jobs(redis_conn)) == 1


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
    assert queued_jobs(redis_conn) == []
    assert delivery_counts(redis_conn) == {"github:too_large": 2}


def test_redis_down_is_503_and_writes_nothing(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """When Redis refuses writes, the answer is 503 with Retry-After and nothing is stored."""
    redis_conn.config_set("min-replicas-to-write", 1)
    try:
        response = post_github(client, payload("github-push.json"))
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
    response = post_github(client, payload("github-push.json"))
    assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json["config"] == "ok"
    assert health.json["redis"].startswith("down")
