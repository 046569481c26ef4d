"""Password sign-in, sessions, CSRF, API tokens and the audit log: the real app and Redis."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from jobs.state import audit
from jobs.state.keys import AUDIT
from tests.support.status import EXAMPLE, example_settings, status_app
from tests.support.users import PASSWORDS, client_as, fresh_users, user_name, with_test_users
from webhook.auth.users import write_users
from webhook.cli import main

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(client: FlaskClient, path: str = "/login") -> str:
    found = CSRF.search(client.get(path).get_data(as_text=True))
    assert found, "no CSRF token on the page"
    return found.group(1)


def _sign_in(client: FlaskClient, role: str = "viewer", password: str | None = None) -> int:
    form = {"username": user_name(role), "password": password or PASSWORDS[role],
            "csrf_token": _csrf(client), "next": "/deploys"}  # fmt: skip
    return client.post("/login", data=form).status_code


@pytest.fixture
def own_users(tmp_path: Path) -> Path:
    """A users file of this test's own, so that it may change it."""
    path = tmp_path / "users.yml"
    write_users(path, fresh_users())
    return path


@pytest.fixture
def app(redis_conn: redis.Redis, own_users: Path) -> Flask:
    return status_app(redis_conn, with_test_users(example_settings(), own_users), role=None)


def _entries(connection: redis.Redis) -> list[audit.AuditEntry]:
    return list(audit.export(connection))


def test_password_sign_in_opens_a_strict_session(app: Flask, redis_conn: redis.Redis) -> None:
    """The right password gives an HttpOnly, Secure, SameSite=Strict session; the pages open."""
    client = app.test_client()
    form = {"username": "viewer-user", "password": PASSWORDS["viewer"],
            "csrf_token": _csrf(client), "next": "/deploys"}  # fmt: skip
    answer = client.post("/login", data=form)
    assert (answer.status_code, answer.headers["Location"]) == (302, "/deploys")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("deployhook_session=")
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict"):
        assert attribute in cookie
    assert client.get("/api/deploys").status_code == 200
    assert "viewer-user (viewer)" in client.get("/").get_data(as_text=True)
    [entry] = _entries(redis_conn)
    assert (entry.action, entry.actor, entry.method, entry.role) == (
        "login",
        "viewer-user",
        "password",
        "viewer",
    )
    assert entry.address == "127.0.0.1" and entry.at


def test_wrong_password_is_refused_and_recorded(app: Flask, redis_conn: redis.Redis) -> None:
    """A wrong password answers 401, opens nothing, and is in the audit log."""
    client = app.test_client()
    assert _sign_in(client, "admin", "not the password") == 401
    assert client.get("/api/deploys").status_code == 401
    [entry] = _entries(redis_conn)
    assert (entry.action, entry.actor, entry.outcome) == ("login-failed", "admin-user", "refused")


@pytest.mark.parametrize("token", [None, "", "forged-token", "a" * 90])
def test_sign_in_without_the_csrf_token_is_refused(app: Flask, token: str | None) -> None:
    """A sign-in form without this server's CSRF token (login CSRF) answers 400."""
    client = app.test_client()
    _csrf(client)  # the browser has a session with a real token...
    form = {"username": "admin-user", "password": PASSWORDS["admin"]}
    if token is not None:
        form["csrf_token"] = token  # ...but the form carries another
    answer = client.post("/login", data=form)
    assert answer.status_code == 400
    assert "CSRF token" in answer.get_data(as_text=True)
    assert client.get("/api/deploys").status_code == 401


def test_session_actions_need_the_csrf_token(app: Flask, redis_conn: redis.Redis) -> None:
    """Signed in by cookie, an action without the CSRF header is refused; with it, it runs."""
    client = app.test_client()
    assert _sign_in(client, "deployer") == 302
    lock = "/api/environments/crm/dev/lock"
    assert client.post(lock, json={"reason": "x"}).status_code == 400
    assert redis_conn.keys("deployhook:lock:*") == []
    token = _csrf(client, "/")
    assert (
        client.post(lock, json={"reason": "x"}, headers={"X-CSRFToken": token}).status_code == 200
    )


def test_sign_out_ends_the_session_on_the_server(app: Flask, redis_conn: redis.Redis) -> None:
    """After sign-out, the old cookie replayed by anyone opens nothing."""
    client = app.test_client()
    assert _sign_in(client, "viewer") == 302
    cookie = client.get_cookie("deployhook_session")
    assert cookie is not None
    stolen = cookie.value
    token = _csrf(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("deployhook_session", stolen)
    assert replay.get("/api/deploys").status_code == 401
    assert [entry.action for entry in _entries(redis_conn)] == ["login", "logout"]


def test_a_removed_user_is_signed_out(app: Flask, own_users: Path) -> None:
    """Removing a user from the users file ends their sessions at the next request."""
    client = app.test_client()
    assert _sign_in(client, "admin") == 302
    assert client.get("/audit").status_code == 200
    users = fresh_users()
    del users.users["admin-user"]
    write_users(own_users, users)
    assert client.get("/audit").status_code == 401


def test_actions_and_the_audit_export(app: Flask, redis_conn: redis.Redis) -> None:
    """Actions are recorded with who, what, where and the outcome; /api/audit gives JSON
    lines to admins only, and the audit page shows them."""
    deployer, admin = client_as(app, "deployer"), client_as(app, "admin")
    assert deployer.post("/api/environments/crm/dev/lock", json={"reason": "x"}).status_code == 200
    assert client_as(app, "viewer").post("/api/environments/crm/dev/unlock").status_code == 403
    assert deployer.get("/api/audit").status_code == 403
    lines = admin.get("/api/audit").get_data(as_text=True).splitlines()
    rows = [json.loads(line) for line in lines]
    assert [(row["action"], row["actor"], row["target"], row["outcome"]) for row in rows] == [
        ("lock", "deployer-user", "crm/dev", "200"),
        ("unlock", "viewer-user", "crm/dev", "403"),
    ]
    assert rows[0]["method"] == "token" and rows[0]["address"] == "127.0.0.1"
    page = admin.get("/audit").get_data(as_text=True)
    assert "deployer-user" in page and "lock" in page


def test_audit_keeps_only_the_retention(redis_conn: redis.Redis) -> None:
    """Entries older than keep_days and beyond max_entries are dropped as new ones come."""
    old = int((time.time() - 3 * 86400) * 1000)
    redis_conn.xadd(AUDIT, {"entry": json.dumps({"action": "ancient"})}, id=f"{old}-0")
    for number in range(5):
        audit.record(redis_conn, audit.AuditEntry("lock", f"u{number}", "x"), 2, 3)
    assert [entry.actor for entry in _entries(redis_conn)] == ["u2", "u3", "u4"]


def test_cli_makes_users_and_tokens_the_app_accepts(
    redis_conn: redis.Redis,
    tmp_path: Path,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`user add` and `token create` make a working sign-in and token; `token revoke` ends it;
    each change is in the audit log, and `deployhook audit` prints it as JSON lines."""
    import io

    config = tmp_path / "deployhook.yml"
    users_path = tmp_path / "state" / "users.yml"
    text = EXAMPLE.read_text()
    text = text.replace("state_dir: .state", f"state_dir: {tmp_path / 'state'}")
    config.write_text(text + f"redis: {{url: {redis_url}}}\n")
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", "webhook-secret-never-shown")
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password for alice\n"))
    assert main(["user", "add", "alice", "--role", "deployer", "--config", str(config)]) == 0
    assert main(["token", "create", "alice", "--role", "viewer", "--config", str(config)]) == 0
    token = capsys.readouterr().out.strip()
    assert users_path.stat().st_mode & 0o777 == 0o600
    assert token not in users_path.read_text()
    from config import load_settings

    app = status_app(redis_conn, load_settings(config), role=None)
    client = app.test_client()
    assert (
        client.get("/api/deploys", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    form = {
        "username": "alice",
        "password": "a long password for alice",
        "csrf_token": _csrf(client),
    }
    assert client.post("/login", data=form).status_code == 302
    token_id = token.split("_")[1]
    assert main(["token", "revoke", token_id, "--config", str(config)]) == 0
    assert (
        app.test_client()
        .get("/api/deploys", headers={"Authorization": f"Bearer {token}"})
        .status_code
        == 401
    )
    capsys.readouterr()
    assert main(["audit", "--config", str(config)]) == 0
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert actions == ["user-add", "token-create", "login", "token-revoke"]


PROXY = "127.0.0.1"


def _behind_proxy(redis_conn: redis.Redis, default_role: str | None = None) -> Flask:
    from config.auth import TrustedHeader

    settings = example_settings()
    trusted = TrustedHeader(
        proxies=["127.0.0.1/32"], roles={"ops": "admin", "dev": "deployer"},
        default_role=default_role,
    )  # fmt: skip
    auth = settings.auth.model_copy(update={"trusted_header": trusted})
    return status_app(redis_conn, settings.model_copy(update={"auth": auth}), role=None)


@pytest.mark.parametrize(
    ("address", "headers", "status", "who"),
    [
        (PROXY, {"Remote-User": "dana", "Remote-Groups": "dev, staff"}, 200, "dana (deployer)"),
        (PROXY, {"Remote-User": "erin", "Remote-Groups": "dev,ops"}, 200, "erin (admin)"),
        (PROXY, {"Remote-User": "admin-user"}, 200, "admin-user (admin)"),  # users file
        (PROXY, {"Remote-User": "frank", "Remote-Groups": "staff"}, 401, None),  # no role
        (PROXY, {"Remote-User": "", "Remote-Groups": "ops"}, 401, None),
        ("10.1.2.3", {"Remote-User": "mallory", "Remote-Groups": "ops"}, 401, None),  # not it
    ],
)  # fmt: skip
def test_trusted_header_only_from_the_proxy(
    redis_conn: redis.Redis, address: str, headers: dict[str, str], status: int, who: str | None
) -> None:
    """Remote-User and Remote-Groups name the user and their role only when the connection
    comes from a configured proxy; the highest mapped role wins; no mapped role, no entry."""
    client = _behind_proxy(redis_conn).test_client()
    answer = client.get("/", headers=headers, environ_base={"REMOTE_ADDR": address})
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    if who is not None:
        assert who in answer.get_data(as_text=True)


def test_trusted_header_default_role(redis_conn: redis.Redis) -> None:
    """With default_role, anyone the proxy vouches for gets it; still only from the proxy."""
    client = _behind_proxy(redis_conn, default_role="viewer").test_client()
    gina, proxy = {"Remote-User": "gina"}, {"REMOTE_ADDR": PROXY}
    seen = client.get("/", headers=gina, environ_base=proxy)
    assert seen.status_code == 200 and "gina (viewer)" in seen.get_data(as_text=True)
    lock = client.post(
        "/api/environments/crm/dev/lock", json={"reason": "x"}, headers=gina, environ_base=proxy
    )
    assert lock.status_code == 403
