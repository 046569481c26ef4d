"""The users file: who may sign in (argon2 password hashes) and their API tokens (hashed).

    users:
      alice: {role: admin, password_hash: "$argon2id$v=19$..."}
    tokens:
      t-3f9a1c0b2d4e: {user: alice, role: deployer, label: ci, created: "2026-...", hash: "..."}

`deployhook user add` and `deployhook token create` write it (0600, atomically); hand edits are
fine. A token is `dht_<id>_<secret>`: the id finds the entry, the secret's SHA-256 is compared
in constant time. Tokens are 256 random bits, so a fast hash is enough; passwords are not, so
they get argon2id. The web app reads the file again whenever it changes: no restart needed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from config.auth import ROLES, role_rank

TOKEN_PREFIX = "dht_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for
USER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$"
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the user does not exist, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD = 12


class UsersFileError(Exception):
    """The users file cannot be read or holds something unusable; the message says where."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str | None = None


@dataclass(frozen=True)
class Token:
    id: str
    user: str
    role: str
    hash: str
    label: str = ""
    created: str = ""


@dataclass
class Users:
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)

    def check_password(self, name: str, password: str) -> User | None:
        """The user when `password` is theirs; None otherwise, in about the same time."""
        user = self.users.get(name)
        stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return user if user is not None and user.password_hash else None

    def check_token(self, presented: str) -> tuple[User, str] | None:
        """(user, effective role) for a valid token: its role, capped by its user's role."""
        token_id, secret = split_token(presented)
        token = self.tokens.get(token_id) if token_id else None
        expected = token.hash if token else hash_secret("no-such-token")
        if not hmac.compare_digest(hash_secret(secret), expected) or token is None:
            return None
        user = self.users.get(token.user)
        if user is None:
            return None
        role = token.role if role_rank(token.role) <= role_rank(user.role) else user.role
        return user, role


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsersFileError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(presented: str) -> tuple[str, str]:
    """`dht_<id>_<secret>` -> (id, secret); ("", "") when it is not shaped so."""
    if not presented.startswith(TOKEN_PREFIX):
        return "", ""
    token_id, _, secret = presented[len(TOKEN_PREFIX) :].partition("_")
    return (token_id, secret) if token_id and secret else ("", "")


def new_token(users: Users, user: str, role: str, label: str) -> str:
    """Add a token for `user` and return it; only its hash is kept."""
    if user not in users.users:
        raise UsersFileError(f"no user {user!r}: add one first with `deployhook user add {user}`")
    check_role(role)
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    users.tokens[token_id] = Token(
        token_id, user, role, hash_secret(secret), label,
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )  # fmt: skip
    return f"{TOKEN_PREFIX}{token_id}_{secret}"


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UsersFileError(f"role must be one of {', '.join(ROLES)}, got {role!r}")


def parse_users(text: str, source: str) -> Users:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        raise UsersFileError(f"{source}: not valid YAML") from None
    if not isinstance(raw, dict) or set(raw) - {"users", "tokens"}:
        raise UsersFileError(f"{source}: expected a mapping with `users` and `tokens` only")
    found = Users()
    for name, entry in (raw.get("users") or {}).items():
        where = f"{source}: users.{name}"
        if not isinstance(entry, dict) or entry.get("role") not in ROLES:
            raise UsersFileError(f"{where}.role: expected one of {', '.join(ROLES)}")
        found.users[str(name)] = User(str(name), entry["role"], entry.get("password_hash"))
    for token_id, entry in (raw.get("tokens") or {}).items():
        where = f"{source}: tokens.{token_id}"
        if not isinstance(entry, dict) or not {"user", "role", "hash"} <= set(entry):
            raise UsersFileError(f"{where}: expected user, role and hash")
        if entry["role"] not in ROLES:
            raise UsersFileError(f"{where}.role: expected one of {', '.join(ROLES)}")
        found.tokens[str(token_id)] = Token(
            str(token_id), str(entry["user"]), entry["role"], str(entry["hash"]),
            str(entry.get("label", "")), str(entry.get("created", "")),
        )  # fmt: skip
    return found


def dump_users(users: Users) -> str:
    raw: dict[str, Any] = {
        "users": {
            user.name: {"role": user.role}
            | ({"password_hash": user.password_hash} if user.password_hash else {})
            for user in users.users.values()
        },
        "tokens": {
            token.id: {"user": token.user, "role": token.role, "label": token.label,
                       "created": token.created, "hash": token.hash}
            for token in users.tokens.values()
        },
    }  # fmt: skip
    head = "# deployhook users and API tokens: `deployhook user --help`. Hashes only.\n"
    return head + yaml.safe_dump(raw, sort_keys=True)


def read_users(path: Path) -> Users:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Users()
    except OSError as error:
        raise UsersFileError(f"{path}: cannot read it: {error.strerror}") from None
    return parse_users(text, str(path))


def write_users(path: Path, users: Users) -> None:
    """Replace the file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".users-", suffix=".yml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(dump_users(users))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class UsersSource:
    """The users file as the web app sees it: read again when its mtime or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._users = Users()
        self._guard = threading.Lock()

    def current(self) -> Users:
        try:
            stat = self.path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = (0, 0)
        with self._guard:
            if seen != self._seen:
                self._users = read_users(self.path) if seen != (0, 0) else Users()
                self._seen = seen
            return self._users
