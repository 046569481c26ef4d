"""Identity for the web surface: sign-in, sessions, roles, CSRF, the audit log.

The app factory calls `register(app, settings, connection)` once; the guard then runs before
every request (webhook/auth/guard.py) with the route table in webhook/auth/policy.py.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from config import Settings
from jobs.state import Connection
from webhook.auth.context import EXTENSION, AuthContext, auth_context
from webhook.auth.guard import current_identity, guard
from webhook.auth.users import UsersSource
from webhook.auth.views import auth

__all__ = ["auth_context", "current_identity", "register"]
SESSION_COOKIE = "deployhook_session"


def register(app: Flask, settings: Settings, connection: Connection) -> None:
    """Guard every route of `app` and add /login, /logout, the OIDC callback and /audit."""
    sessions = settings.auth.sessions
    app.secret_key = (
        sessions.secret.reveal() if sessions.secret else session_secret(settings.state_dir)
    )
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=sessions.secure_cookie,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=sessions.lifetime_hours),
        # The guard decides when to check (cookie-borne identities only), not every POST.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session: a form left open still works
        WTF_CSRF_SSL_STRICT=sessions.secure_cookie,
    )
    app.extensions[EXTENSION] = AuthContext(
        settings, connection, UsersSource(settings.users_path())
    )
    csrf = CSRFProtect(app)
    app.register_blueprint(auth)
    app.before_request(lambda: guard(csrf))
    app.context_processor(lambda: {"identity": current_identity()})


def session_secret(state_dir: Path) -> str:
    """The key that signs session cookies: made once, kept in <state_dir>/session-secret."""
    path = state_dir / "session-secret"
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when several gunicorn workers start at once, exactly one writes it.
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker made it a moment ago and is writing it
            try:
                return _read_secret(path)
            except FileNotFoundError:
                time.sleep(0.1)
        return _read_secret(path)
    with os.fdopen(handle, "w") as out:
        out.write(secrets.token_urlsafe(48))
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < 32:
        raise FileNotFoundError(path)  # still being written by another worker, or truncated
    return text
