"""With Redis stopped, every route of the app that needs Redis answers 503 with Retry-After."""

from __future__ import annotations

import pytest
from flask import Flask

from jobs.state.ids import new_deploy_id
from tests.support.deliveries import encode, github_headers, make_settings, payload
from tests.support.redis_server import socket_url, start_redis
from tests.support.users import TOKENS, signed_in_client
from webhook.app import create_app

TOKEN = TOKENS["admin"]  # every route, so that each gets as far as Redis
DEPLOY = new_deploy_id()
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCK_BODY = {"json": {"reason": "maintenance"}, "headers": AUTH}
PUSH = encode(payload("github-push.json"))

# endpoint -> (path, request options); every route of the app must be listed here.
NEEDS_REDIS: dict[str, tuple[str, dict[str, object]]] = {
    "hooks.receive": ("/hooks/crm", {"data": PUSH, "headers": github_headers(PUSH)}),
    "api.health": ("/healthz", {}),
    "api.show_deploy": (f"/api/deploys/{DEPLOY}", {}),
    "status_pages.environments": ("/", {}),
    "status_pages.deploys": ("/deploys", {}),
    "status_pages.deploy": (f"/deploys/{DEPLOY}", {}),
    "status_pages.log_stream": (f"/deploys/{DEPLOY}/log/stream", {}),
    "status_api.environments": ("/api/environments", {}),
    "status_api.deploys": ("/api/deploys", {}),
    "status_api.log": (f"/api/deploys/{DEPLOY}/log", {}),
    "status_actions.lock": ("/api/environments/crm/dev/lock", LOCK_BODY),
    "status_actions.unlock": ("/api/environments/crm/dev/unlock", {"headers": AUTH}),
    "status_actions.deploy": (
        "/api/environments/crm/dev/deploy",
        {"json": {"ref": "a" * 40}, "headers": AUTH},
    ),
    "status_actions.rollback": (
        "/api/environments/crm/dev/rollback",
        {"json": {}, "headers": AUTH},
    ),
    "auth.audit_page": ("/audit", {}),
    "auth.audit_export": ("/api/audit", {}),
    # A password sign-in opens a session in Redis (the users file is read first).
    "auth.login": ("/login", {"data": {"username": "x", "password": "y"}}),
}
# Routes that never read Redis, and what they answer while it is down.
WITHOUT_REDIS: dict[str, tuple[str, int]] = {
    "static": ("/static/status.css", 200),  # Flask's own static route
    "status_assets.static": ("/assets/status.css", 200),
    "status_api.openapi": ("/api/openapi.json", 200),
    # Prometheus convention: the scrape works and says deployhook_redis_up 0.
    "metrics": ("/metrics", 200),
    # Signing out of nothing (a token holds no session) and single sign-on not configured.
    "auth.logout": ("/logout", 302),
    "auth.oidc_start": ("/login/oidc", 404),
    "auth.oidc_callback": ("/login/oidc/callback", 404),
}


@pytest.fixture(scope="module")
def app_without_redis(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    directory = tmp_path_factory.mktemp("redis-down")
    server = start_redis(directory)
    settings = make_settings(directory, socket_url(directory))
    app = create_app(settings)
    app.test_client_class = signed_in_client("admin")
    app.test_client().get("/healthz")  # it answered once...
    server.terminate()  # ...then Redis stops
    server.wait(timeout=10)
    return app


def test_every_route_is_in_the_table(app_without_redis: Flask) -> None:
    """A new route must say here whether it needs Redis, so this test covers it."""
    endpoints = {rule.endpoint for rule in app_without_redis.url_map.iter_rules()}
    assert endpoints == set(NEEDS_REDIS) | set(WITHOUT_REDIS)


@pytest.mark.parametrize("endpoint", sorted(NEEDS_REDIS))
def test_route_answers_503_with_retry_after(app_without_redis: Flask, endpoint: str) -> None:
    """Redis down: a 503 with Retry-After and a one-line error, never a 500 or a trace."""
    path, options = NEEDS_REDIS[endpoint]
    rule = next(r for r in app_without_redis.url_map.iter_rules() if r.endpoint == endpoint)
    method = "POST" if "POST" in (rule.methods or set()) else "GET"
    answer = app_without_redis.test_client().open(path, method=method, **options)  # type: ignore[arg-type]
    assert (answer.status_code, answer.headers.get("Retry-After")) == (503, "5"), answer.data
    assert b"Traceback" not in answer.data


@pytest.mark.parametrize("endpoint", sorted(WITHOUT_REDIS))
def test_routes_without_redis_still_answer(app_without_redis: Flask, endpoint: str) -> None:
    """Routes that never read Redis answer as usual while it is down."""
    path, status = WITHOUT_REDIS[endpoint]
    rule = next(r for r in app_without_redis.url_map.iter_rules() if r.endpoint == endpoint)
    method = "POST" if "POST" in (rule.methods or set()) else "GET"
    assert app_without_redis.test_client().open(path, method=method).status_code == status


def test_metrics_say_redis_is_down(app_without_redis: Flask) -> None:
    """/metrics keeps answering so that alerting sees deployhook_redis_up 0."""
    text = app_without_redis.test_client().get("/metrics").get_data(as_text=True)
    assert "deployhook_redis_up 0.0" in text
