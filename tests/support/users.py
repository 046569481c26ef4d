"""Test users: one user and one API token per role, in a users file of the test run's own."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from config import Secret, Settings
from config.auth import ROLES
from webhook.auth.users import Token, User, Users, hash_password, hash_secret, write_users

# dht_<id>_<secret>: the id is the role's name, so a failing assertion says whose it was.
TOKENS = {role: f"dht_{role}_test-secret-of-the-{role}-token-0123456789" for role in ROLES}
PASSWORDS = {role: f"password of the {role} 0123" for role in ROLES}
SESSION_SECRET = "session-secret-for-tests-0123456789-abcdefghij"


def user_name(role: str) -> str:
    return f"{role}-user"


@cache
def _password_hashes() -> dict[str, str]:
    """argon2 is slow on purpose: hash each test password once per process."""
    return {role: hash_password(PASSWORDS[role]) for role in ROLES}


def fresh_users() -> Users:
    """A fresh Users with the three test users and their tokens (safe to change)."""
    users = Users()
    for role in ROLES:
        name = user_name(role)
        users.users[name] = User(name, role, _password_hashes()[role])
        secret = TOKENS[role].split("_", 2)[2]
        users.tokens[role] = Token(role, name, role, hash_secret(secret), "tests")
    return users


@cache
def shared_users_path() -> Path:
    """Written once per test process: argon2 hashing is slow on purpose."""
    path = Path(tempfile.mkdtemp(prefix="deployhook-test-users-")) / "users.yml"
    write_users(path, fresh_users())
    return path


def with_test_users(settings: Settings, users_path: Path | None = None) -> Settings:
    """`settings` reading the test users, with a fixed session key (nothing in state_dir)."""
    sessions = settings.auth.sessions.model_copy(update={"secret": Secret(SESSION_SECRET)})
    auth = settings.auth.model_copy(
        update={"users_path": users_path or shared_users_path(), "sessions": sessions}
    )
    return settings.model_copy(update={"auth": auth})


def signed_in_client(role: str | None) -> type[FlaskClient]:
    """A test client class whose requests carry `role`'s token unless they send their own."""

    class SignedIn(FlaskClient):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            if role is not None:
                self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKENS[role]}"

    return SignedIn


def client_as(app: Flask, role: str | None) -> FlaskClient:
    """A test client of `app` whose requests carry `role`'s token (None: anonymous)."""
    return signed_in_client(role)(app, app.response_class, use_cookies=True)
