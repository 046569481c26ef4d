"""The JSON API: environments, filtered history, log paging, OpenAPI, and role-guarded locks."""

from __future__ import annotations

import json

import pytest
import redis
from openapi_spec_validator import validate

from jobs.state.keys import lock as lock_key
from jobs.state.records import DeployStore
from tests.support.status import TOKEN, make_deploy, set_json, status_app
from tests.support.users import TOKENS
from webhook.auth.identity import bearer

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_environments_lists_every_configured_environment(redis_conn: redis.Redis) -> None:
    """/api/environments returns each environment with its last deploy, lock and queue."""
    deploy = make_deploy(DeployStore(redis_conn), "prod", ref_kind="tag", ref_name="v1.0.0")
    body = status_app(redis_conn).test_client().get("/api/environments").get_json()
    by_target = {env["target"]: env for env in body["environments"]}
    assert by_target["crm/prod"]["last_deploy"]["id"] == deploy.id
    assert by_target["crm/dev"]["last_deploy"] is None
    assert by_target["crm/dev"]["lock"]["state"] == "free"
    assert by_target["crm/dev"]["queue_length"] == 0


def test_deploys_filters_by_environment_and_state(redis_conn: redis.Redis) -> None:
    """/api/deploys narrows by environment and state and honours the limit, newest first."""
    store = DeployStore(redis_conn)
    failed = make_deploy(store, "dev", state="failed")
    make_deploy(store, "dev", state="succeeded")
    newest_ok = make_deploy(store, "dev", state="succeeded")
    make_deploy(store, "prod", state="succeeded")
    client = status_app(redis_conn).test_client()

    def ids(query: str) -> list[str]:
        answer = client.get(f"/api/deploys?{query}")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return [deploy["id"] for deploy in answer.get_json()["deploys"]]

    assert len(ids("")) == 4
    assert ids("environment=crm/dev&state=failed") == [failed.id]
    assert ids("environment=crm/dev&state=succeeded&limit=1") == [newest_ok.id]
    assert len(ids("state=succeeded")) == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("environment=crm/nope", "environment must be one of"),
        ("environment=nope", "environment must be one of"),
        ("state=done", "state must be one of"),
        ("limit=0", "limit must be a whole number from 1 to 500"),
        ("limit=abc", "limit must be a whole number"),
    ],
)
def test_deploys_rejects_bad_filters(redis_conn: redis.Redis, query: str, message: str) -> None:
    """A bad filter value answers 400 with a message naming the parameter."""
    answer = status_app(redis_conn).test_client().get(f"/api/deploys?{query}")
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]


def test_log_pages_from_start(redis_conn: redis.Redis) -> None:
    """/api/deploys/<id>/log returns lines from `start` and the `next` index to ask for."""
    store = DeployStore(redis_conn)
    deploy = make_deploy(store)
    store.append_log(deploy.id, "one", "two", "three")
    client = status_app(redis_conn).test_client()
    body = client.get(f"/api/deploys/{deploy.id}/log?start=1").get_json()
    assert (body["lines"], body["start"], body["next"]) == (["two", "three"], 1, 3)
    assert body["deploy"]["state"] == "queued" and body["deploy"]["final"] is False
    assert client.get(f"/api/deploys/{deploy.id}/log?start=3").get_json()["lines"] == []
    assert client.get(f"/api/deploys/{deploy.id}/log?start=-1").status_code == 400
    missing = client.get("/api/deploys/d-20200101-000000-000000/log")
    assert missing.status_code == 404 and "no deploy" in missing.get_json()["error"]


def test_openapi_document_names_every_route(redis_conn: redis.Redis) -> None:
    """/api/openapi.json is valid OpenAPI 3.1 and documents every status route."""
    app = status_app(redis_conn)
    document = app.test_client().get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises with the offending path when the document is not valid
    served = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.endswith("static")
    }
    documented = set(document["paths"])
    assert served <= documented, f"undocumented: {served - documented}"
    # Besides the status surface, only the intake's own routes may be described there.
    assert documented - served <= {"/hooks/{project}", "/healthz", "/api/deploys/{deploy_id}"}


def test_bearer_token_parsing() -> None:
    """Only a well-formed `Bearer <token>` header yields a token."""
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    for header in ("", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "abc"):
        assert bearer(header) is None


def test_actions_refused_to_a_viewer(redis_conn: redis.Redis) -> None:
    """A viewer's token reads but cannot lock or unlock: 403, and nothing changes."""
    client = status_app(redis_conn, role="viewer").test_client()
    for action in ("lock", "unlock"):
        answer = client.post(f"/api/environments/crm/dev/{action}", json={"reason": "x"})
        assert answer.status_code == 403
        assert answer.get_json()["error"] == "viewer-user is viewer; this needs deployer"
    assert redis_conn.get(lock_key("crm/dev")) is None


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
     {"Authorization": f"Bearer {TOKEN[:-1]}"}],
)  # fmt: skip
def test_actions_need_the_bearer_token(redis_conn: redis.Redis, headers: dict[str, str]) -> None:
    """A missing or wrong token answers 401 without revealing the expected value."""
    client = status_app(redis_conn, role=None).test_client()
    answer = client.post("/api/environments/crm/dev/lock", json={"reason": "x"}, headers=headers)
    assert answer.status_code == 401
    assert all(token not in answer.get_data(as_text=True) for token in TOKENS.values())
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert redis_conn.get(lock_key("crm/dev")) is None


def test_token_in_cookie_or_form_is_ignored(redis_conn: redis.Redis) -> None:
    """A cross-site form cannot act: a token in a cookie or form field is not accepted."""
    client = status_app(redis_conn, role=None).test_client()
    client.set_cookie("token", TOKEN)
    answer = client.post("/api/environments/crm/dev/lock", data={"reason": "x", "token": TOKEN})
    assert answer.status_code == 401
    assert client.get("/api/environments/crm/dev/lock", headers=AUTH).status_code == 405


def test_lock_and_unlock_by_operator(redis_conn: redis.Redis) -> None:
    """Lock writes an operator lock with the reason; unlock removes it; both show on the API."""
    client = status_app(redis_conn).test_client()
    answer = client.post(
        "/api/environments/crm/prod/lock", json={"reason": "db maintenance"}, headers=AUTH
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    stored = json.loads(redis_conn.get(lock_key("crm/prod")) or b"")
    assert stored["reason"] == "locked by operator via API: db maintenance"
    assert stored["deploy_id"] is None and stored["since"]
    listed = client.get("/api/environments").get_json()["environments"]
    assert [env["lock"]["state"] for env in listed] == ["free", "operator"]
    answer = client.post("/api/environments/crm/prod/unlock", headers=AUTH)
    assert answer.status_code == 200
    assert answer.get_json()["previous"]["state"] == "operator"
    assert redis_conn.get(lock_key("crm/prod")) is None


def test_lock_actions_never_touch_a_deploy_lock(redis_conn: redis.Redis) -> None:
    """While a deploy holds the lock, lock and unlock answer 409 and leave it in place."""
    deploy = make_deploy(DeployStore(redis_conn), "dev", state="running")
    held = {"deploy_id": deploy.id, "host": "h", "pid": 1, "reason": "deploy", "since": "t"}
    set_json(redis_conn, lock_key("crm/dev"), held)
    client = status_app(redis_conn).test_client()
    for action in ("lock", "unlock"):
        answer = client.post(
            f"/api/environments/crm/dev/{action}", json={"reason": "x"}, headers=AUTH
        )
        assert answer.status_code == 409
        assert deploy.id in answer.get_json()["error"]
    assert json.loads(redis_conn.get(lock_key("crm/dev")) or b"") == held


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/environments/crm/qa/lock", {"reason": "x"}, 404),
        ("/api/environments/crm/dev/lock", {}, 400),
        ("/api/environments/crm/dev/lock", {"reason": "  "}, 400),
        ("/api/environments/crm/dev/lock", {"reason": "a\nb"}, 400),
        ("/api/environments/crm/dev/lock", {"reason": "x" * 201}, 400),
        ("/api/environments/crm/dev/lock", {"reason": 5}, 400),
    ],
)
def test_lock_rejects_bad_requests(
    redis_conn: redis.Redis, path: str, body: object, status: int
) -> None:
    """Unknown environments and missing or unprintable reasons are refused and lock nothing."""
    client = status_app(redis_conn).test_client()
    answer = client.post(path, json=body, headers=AUTH)
    assert answer.status_code == status
    assert answer.get_json()["error"]
    assert redis_conn.keys("deployhook:lock:*") == []
