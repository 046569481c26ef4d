"""`POST /hooks/<project>` for GitLab (token, Standard Webhooks) and Gitea/Forgejo."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from jobs.state.records import DeployStore
from tests.support.deliveries import (
    GITLAB_SECRET,
    encode,
    gitea_headers,
    gitlab_headers,
    payload,
    queued_jobs,
)

GITLAB_CHECKOUT = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"


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
        # Offsets, not times: a time fixed at collection drifts while earlier tests run.
        ({"when": -timedelta(minutes=6)}, "5 minutes"),
        ({"when": timedelta(minutes=6)}, "5 minutes"),
    ],
)
def test_gitlab_refusals(
    client: FlaskClient, redis_conn: redis.Redis, change: dict[str, Any], message: str
) -> None:
    """Wrong token, missing or wrong signature, stale or future timestamp: all 401."""
    body = encode(payload("gitlab-push.json"))
    if "when" in change:
        change = {"when": datetime.now(UTC) + change["when"]}
    response = client.post("/hooks/shop", data=body, headers=gitlab_headers(body, **change))
    assert response.status_code == 401
    assert message in response.json["error"]
    assert queued_jobs(redis_conn) == []


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
    assert queued_jobs(redis_conn) == []


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
