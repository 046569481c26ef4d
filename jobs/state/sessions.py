"""Signed-in browser sessions: the cookie holds a random id, Redis holds who it belongs to.

The cookie is signed too (webhook/auth/), so writing to Redis alone cannot make a session, and
deleting the key signs the browser out everywhere the cookie went (logout, user removed).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass

from redis import Redis

from jobs.state.keys import session as session_key
from jobs.state.redistext import as_text


@dataclass(frozen=True)
class SessionData:
    user: str
    role: str
    method: str  # password, oidc
    created: str


def _key(session_id: str) -> str:
    return session_key(hashlib.sha256(session_id.encode()).hexdigest())


def open_session(connection: Redis, data: SessionData, lifetime_seconds: int) -> str:
    session_id = secrets.token_urlsafe(32)
    connection.set(_key(session_id), json.dumps(asdict(data)), ex=lifetime_seconds)
    return session_id


def read_session(connection: Redis, session_id: str) -> SessionData | None:
    raw = connection.get(_key(session_id))
    if raw is None:
        return None
    try:
        fields = json.loads(as_text(raw))
        return SessionData(**{name: str(fields[name]) for name in SessionData.__dataclass_fields__})
    except (ValueError, KeyError, TypeError):
        return None


def close_session(connection: Redis, session_id: str) -> None:
    connection.delete(_key(session_id))
