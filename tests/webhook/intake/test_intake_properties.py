"""Property tests: whatever arrives, the intake answers with a 2xx or a clear 4xx, never a 5xx.

Bodies, headers and payload fields are drawn by hypothesis and sent through the real app (on
the session's real Redis) with the Flask test client. Examples are bounded to keep this fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers

from tests.support.deliveries import (
    GITEA_SECRET,
    GITHUB_SECRET,
    GITLAB_SECRET,
    make_settings,
)
from tests.support.deliveries import payload as real_payload
from webhook.app import create_app
from webhook.errors import Unauthorized
from webhook.push import Push
from webhook.routing import route
from webhook.signatures import verify_gitea, verify_github, verify_standard_webhooks

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
HEADER_NAMES = [
    "X-GitHub-Event", "X-GitHub-Delivery", "X-GitHub-Hook-ID", "X-Hub-Signature-256",
    "X-Hub-Signature", "X-Gitea-Event", "X-Gitea-Delivery", "X-Gitea-Signature",
    "X-Forgejo-Event", "X-Gitlab-Event", "X-Gitlab-Token", "Idempotency-Key", "webhook-id",
    "webhook-timestamp", "webhook-signature", "Content-Type",
]  # fmt: skip
HEADERS = st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_TEXT, max_size=8)
PROJECTS = st.sampled_from(["crm", "shop", "legacy", "wiki", "nosuch"])
SHA = st.one_of(st.text("0123456789abcdef", min_size=40, max_size=40), HEADER_TEXT)
REF = st.one_of(
    st.builds("refs/heads/{}".format, HEADER_TEXT),
    st.builds("refs/tags/{}".format, HEADER_TEXT),
    st.sampled_from(["refs/heads/main", "refs/tags/v1.2.0", "refs/notes/x"]),
    HEADER_TEXT,
)
# JSON values of any shape, for fields that should be strings or objects.
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HEADER_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HEADER_TEXT, inner, max_size=3),
    max_leaves=6,
)
REPOSITORY = st.one_of(
    st.fixed_dictionaries(
        {"full_name": st.sampled_from(["acme/crm", "acme/other"]) | HEADER_TEXT},
        optional={"html_url": ANY_JSON, "clone_url": ANY_JSON},
    ),
    ANY_JSON,
)
PAYLOAD = st.fixed_dictionaries(
    {},
    optional={
        "ref": REF | ANY_JSON,
        "after": SHA | ANY_JSON,
        "before": SHA | ANY_JSON,
        "checkout_sha": SHA | ANY_JSON,
        "deleted": st.booleans() | ANY_JSON,
        "repository": REPOSITORY,
        "project": st.fixed_dictionaries(
            {"path_with_namespace": st.just("acme/platform/crm") | HEADER_TEXT},
            optional={"web_url": ANY_JSON},
        )
        | ANY_JSON,
        "head_commit": st.fixed_dictionaries({"id": SHA}) | ANY_JSON,
        "pusher": ANY_JSON,
        "sender": ANY_JSON,
        "user_username": ANY_JSON,
    },
)


# A real payload of each provider with up to two fields replaced by anything at all.
REAL = {"github": "github-push.json", "gitea": "gitea-push.json", "gitlab": "gitlab-push.json"}
CHANGES = st.dictionaries(
    st.sampled_from(
        ["ref", "after", "before", "checkout_sha", "deleted", "repository", "project",
         "head_commit", "pusher", "sender"]
    ),
    SHA | REF | ANY_JSON,
    max_size=2,
)  # fmt: skip


@pytest.fixture
def app(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return create_app(make_settings(tmp_path_factory.mktemp("state"), redis_url))


def _answer_is_clean(status: int, body: Any) -> None:
    assert status < 500, body
    assert isinstance(body, dict), body


@BOUNDED
@given(project=PROJECTS, body=st.binary(max_size=300), headers=HEADERS)
def test_arbitrary_requests_never_get_a_5xx(
    app: Flask, project: str, body: bytes, headers: dict[str, str]
) -> None:
    """Any body with any mix of provider headers answers below 500, always as JSON."""
    response = app.test_client().post(f"/hooks/{project}", data=body, headers=headers)
    _answer_is_clean(response.status_code, response.get_json(silent=True))


@BOUNDED
@given(
    provider=st.sampled_from(["github", "gitea", "gitlab"]),
    made_up=PAYLOAD,
    changes=CHANGES | st.none(),
    name=st.sampled_from(["push", "Push Hook", "Tag Push Hook", "ping"]) | HEADER_TEXT,
    delivery=st.uuids().map(str) | HEADER_TEXT,
)
def test_signed_arbitrary_payloads_never_get_a_5xx(
    app: Flask,
    provider: str,
    made_up: dict[str, Any],
    changes: dict[str, Any] | None,
    name: str,
    delivery: str,
) -> None:
    """Correctly signed deliveries with payload fields of any shape reach the parser: no 5xx."""
    payload = made_up if changes is None else real_payload(REAL[provider]) | changes
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if provider == "github":
        digest = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers |= {
            "X-GitHub-Event": name,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": f"sha256={digest}",
        }
        project = "crm"
    elif provider == "gitea":
        digest = hmac.new(GITEA_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers |= {"X-Gitea-Event": name, "X-Gitea-Delivery": delivery}
        headers["X-Gitea-Signature"] = digest
        project = "wiki"
    else:
        headers |= {"X-Gitlab-Event": name, "X-Gitlab-Token": GITLAB_SECRET}
        headers["Idempotency-Key"] = delivery
        project = "legacy"
    response = app.test_client().post(f"/hooks/{project}", data=body, headers=headers)
    _answer_is_clean(response.status_code, response.get_json(silent=True))
    assert response.status_code in {200, 202, 400, 403}, response.get_json()
    event(f"status {response.status_code}")  # the statistics show every branch is reached


@BOUNDED
@given(
    kind=st.sampled_from(["branch", "tag"]),
    name=st.text(min_size=1, max_size=30) | st.sampled_from(["main", "v1.2.0", "v*", "dev"]),
)
def test_routing_matches_only_its_own_kind(kind: str, name: str) -> None:
    """route() is sorted, picks only configured names, and never crosses branch and tag."""
    project = make_settings(Path("/nonexistent"), None).projects["crm"]
    push = Push("github", "acme/crm", None, kind, name, "a" * 40, "", "", "")  # type: ignore[arg-type]
    chosen = route(project, push)
    assert chosen == sorted(chosen)
    for environment in chosen:
        trigger = project.environments[environment].trigger
        assert trigger.kind == kind
        if kind == "branch":
            assert trigger.pattern == name
    if kind == "branch" and name == "main":
        assert chosen == ["dev"]


@BOUNDED
@given(secret=st.text(min_size=1, max_size=20), body=st.binary(max_size=200), headers=HEADERS)
def test_signature_checks_fail_closed_on_anything(
    secret: str, body: bytes, headers: dict[str, str]
) -> None:
    """Forged or malformed signature headers raise Unauthorized, nothing else; right ones pass."""
    given_headers = Headers(headers)
    for check in (verify_github, verify_gitea):
        with contextlib.suppress(Unauthorized):
            check(secret, given_headers, body)
    with contextlib.suppress(Unauthorized):
        verify_standard_webhooks(b"key", given_headers, body)
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    verify_github(secret, Headers({"X-Hub-Signature-256": f"sha256={digest}"}), body)
    verify_gitea(secret, Headers({"X-Gitea-Signature": digest.upper()}), body)
