"""Every route of the whole app, tried with no identity and with each role: status and no leak.

The table is checked against app.url_map, so a new route without a row fails here until
someone decides who may use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from jobs.state.records import DeployStore
from tests.support.deliveries import encode, github_headers, make_settings, payload
from tests.support.status import make_deploy
from tests.support.users import TOKENS, client_as
from webhook.app import create_app

PUSH = encode(payload("github-push.json"))
SECRET_TEXT = "log line that only a signed-in caller may read"
# Who may do what: None is anonymous. Everything but the signed webhook, the health check and
# the sign-in routes needs a viewer; actions a deployer; the audit log an admin.
WHO = (None, "viewer", "deployer", "admin")
READ = {None: 401, "viewer": 200, "deployer": 200, "admin": 200}
ACT = {None: 401, "viewer": 403, "deployer": "ok", "admin": "ok"}
ADMIN = {None: 401, "viewer": 403, "deployer": 403, "admin": 200}


def _same(status: int | str) -> dict[str | None, int | str]:
    return dict.fromkeys(WHO, status)


# endpoint -> (method, path, request options, expected status by role; "ok": any 2xx/4xx
# answer from the view itself, i.e. not 401/403 from the guard).
ROUTES: dict[str, tuple[str, str, dict[str, Any], dict[str | None, int | str]]] = {
    "hooks.receive": ("POST", "/hooks/crm", {"data": PUSH, "headers": github_headers(PUSH)},
                      _same(202)),
    "api.health": ("GET", "/healthz", {}, _same(200)),
    "api.show_deploy": ("GET", "/api/deploys/{deploy}", {}, READ),
    "static": ("GET", "/static/status.css", {}, READ),
    "status_assets.static": ("GET", "/assets/status.css", {}, _same(200)),
    "status_pages.environments": ("GET", "/", {}, READ),
    "status_pages.deploys": ("GET", "/deploys", {}, READ),
    "status_pages.deploy": ("GET", "/deploys/{deploy}", {}, READ),
    "status_pages.log_stream": ("GET", "/deploys/{deploy}/log/stream", {}, READ),
    "status_api.environments": ("GET", "/api/environments", {}, READ),
    "status_api.deploys": ("GET", "/api/deploys", {}, READ),
    "status_api.log": ("GET", "/api/deploys/{deploy}/log", {}, READ),
    "status_api.openapi": ("GET", "/api/openapi.json", {}, READ),
    "status_actions.lock": ("POST", "/api/environments/crm/dev/lock",
                            {"json": {"reason": "audit"}}, ACT),
    "status_actions.unlock": ("POST", "/api/environments/crm/dev/unlock", {}, ACT),
    "status_actions.deploy": ("POST", "/api/environments/crm/dev/deploy",
                              {"json": {"ref": "a" * 40}}, ACT),
    "status_actions.rollback": ("POST", "/api/environments/crm/dev/rollback", {"json": {}}, ACT),
    "metrics": ("GET", "/metrics", {}, READ),
    "auth.login": ("GET", "/login", {}, _same(200)),
    "auth.logout": ("POST", "/logout", {}, {None: 400, "viewer": 302, "deployer": 302,
                                             "admin": 302}),  # anonymous: no CSRF token
    "auth.oidc_start": ("GET", "/login/oidc", {}, _same(404)),  # not configured here
    "auth.oidc_callback": ("GET", "/login/oidc/callback", {}, _same(404)),
    "auth.audit_page": ("GET", "/audit", {}, ADMIN),
    "auth.audit_export": ("GET", "/api/audit", {}, ADMIN),
}  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Flask:
    made = create_app(make_settings(tmp_path_factory.mktemp("routes"), redis_url))
    made.config["LIVE_STREAM_SECONDS"] = 0.2
    return made


@pytest.fixture
def deploy_id(redis_conn: redis.Redis) -> str:
    store = DeployStore(redis_conn)
    deploy = make_deploy(store, "dev", state="succeeded", sender="secret-sender-name")
    store.append_log(deploy.id, SECRET_TEXT)
    return deploy.id


def test_every_route_is_in_the_table(app: Flask) -> None:
    """A new route must say here who may use it, so that this test tries it."""
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == set(ROUTES)


@pytest.mark.parametrize("role", WHO, ids=lambda role: role or "anonymous")
@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_route_answers_each_identity(
    app: Flask, deploy_id: str, endpoint: str, role: str | None, redis_conn: redis.Redis
) -> None:
    """Each route answers each identity as the table says; refusals show no record or log."""
    method, path, options, expected = ROUTES[endpoint]
    answer = client_as(app, role).open(path.format(deploy=deploy_id), method=method, **options)
    body = answer.get_data(as_text=True)
    want = expected[role]
    if want == "ok":
        assert answer.status_code not in (401, 403) and answer.status_code < 500, body[:300]
    else:
        assert answer.status_code == want, body[:300]
    if answer.status_code in (401, 403):
        for private in (deploy_id, SECRET_TEXT, "secret-sender-name", "crm/dev", "deployhook_"):
            assert private not in body, (private, body[:300])
        assert answer.is_json and set(answer.get_json()) == {"error"}
    for token in TOKENS.values():
        assert token not in body


def test_anonymous_browser_is_sent_to_sign_in(app: Flask, deploy_id: str) -> None:
    """A browser without a session asking for a page goes to /login, which returns it after."""
    answer = client_as(app, None).get(f"/deploys/{deploy_id}", headers={"Accept": "text/html"})
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/login?next=/deploys/{deploy_id}"


def test_nothing_is_readable_before_a_user_exists(redis_url: str, tmp_path: Path) -> None:
    """A fresh install (no users file) refuses every page, even from loopback, and says how to
    add the first user."""
    settings = make_settings(tmp_path, redis_url)
    fresh = settings.auth.model_copy(update={"users_path": tmp_path / "none.yml"})
    app = create_app(settings.model_copy(update={"auth": fresh}))
    client = client_as(app, None)
    for path in ("/", "/api/deploys", "/metrics", "/deploys"):
        answer = client.get(
            path, headers={"Accept": "text/html"}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
        )
        assert answer.status_code == 401, path
        assert "deployhook user add NAME --role admin" in answer.get_json()["error"]
    login = client.get("/login").get_data(as_text=True)
    assert "deployhook user add NAME --role admin" in login
    assert client.get("/healthz").status_code == 200


def test_a_wrong_token_is_refused_even_with_a_session(app: Flask) -> None:
    """A request that sends a wrong token is refused; it never falls back to a weaker proof."""
    client = client_as(app, None)
    answer = client.get("/api/deploys", headers={"Authorization": "Bearer dht_viewer_wrong"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_scrape_token_reads_metrics_and_nothing_else(redis_url: str, tmp_path: Path) -> None:
    """auth.metrics.token opens /metrics only: every other route answers 403 to it."""
    from config import Secret

    settings = make_settings(tmp_path, redis_url)
    metrics = settings.auth.metrics.model_copy(update={"token": Secret("scrape-token-0123456789")})
    app = create_app(settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"metrics": metrics})}
    ))  # fmt: skip
    client = client_as(app, None)
    scrape = {"Authorization": "Bearer scrape-token-0123456789"}
    assert "deployhook_redis_up" in client.get("/metrics", headers=scrape).get_data(as_text=True)
    for path in ("/", "/api/deploys", "/api/environments", "/api/audit"):
        assert client.get(path, headers=scrape).status_code == 403, path
