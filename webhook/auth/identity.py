"""Who is asking: a bearer token, an auth proxy's trusted header, or a signed-in session.

Each source is tried in that order and the first that speaks decides: a request with a wrong
token is refused even if it also carries a session cookie, so nothing falls through to a
weaker proof by accident.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from ipaddress import ip_address

from flask import Request, session

from config.auth import ROLES, RoleMapping, role_rank
from jobs.state.sessions import read_session
from webhook.auth.context import AuthContext

SCRAPER = "metrics-scraper"  # the role a scrape token grants: /metrics and nothing else


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    method: str  # token, header, password, oidc, scrape

    def may(self, needed: str) -> bool:
        return role_rank(self.role) >= role_rank(needed)

    @property
    def by_cookie(self) -> bool:
        """A browser proves itself with cookies, which other sites can make it send: CSRF."""
        return self.method in {"password", "oidc", "header"}


class Refused(Exception):
    """Credentials were given and are wrong; the message says what to send instead."""


def bearer(header: str) -> str | None:
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def identify(request: Request, auth: AuthContext) -> Identity | None:
    """The identity the request proves; None when it proves none; Refused when it lies."""
    header = request.headers.get("Authorization")
    if header is not None:
        return _by_token(header, auth)
    proxied = _by_proxy_header(request, auth)
    if proxied is not None:
        return proxied
    return _by_session(auth)


def _by_token(header: str, auth: AuthContext) -> Identity:
    token = bearer(header)
    if token is None:
        raise Refused("send the header Authorization: Bearer <token>")
    scrape = auth.settings.auth.metrics.token
    if scrape is not None and hmac.compare_digest(token.encode(), scrape.reveal().encode()):
        return Identity("prometheus", SCRAPER, "scrape")
    found = auth.users().check_token(token)
    if found is None:
        raise Refused("unknown or revoked token: make one with `deployhook token create`")
    user, role = found
    return Identity(user.name, role, "token")


def _by_proxy_header(request: Request, auth: AuthContext) -> Identity | None:
    trusted = auth.settings.auth.trusted_header
    if trusted is None or not request.remote_addr:
        return None
    try:
        peer = ip_address(request.remote_addr)
    except ValueError:
        return None
    if not any(peer in network for network in trusted.proxies):
        return None  # anyone else could send the header: it means nothing from them
    name = (request.headers.get(trusted.user_header) or "").strip()
    if not name:
        return None
    groups_text = request.headers.get(trusted.groups_header, "") if trusted.groups_header else ""
    groups = [group.strip() for group in groups_text.split(",") if group.strip()]
    role = role_for(name, groups, trusted, auth)
    if role is None:
        raise Refused(f"{name} has no role here: ask an admin to map one of your groups")
    return Identity(name, role, "header")


def role_for(name: str, groups: list[str], mapping: RoleMapping, auth: AuthContext) -> str | None:
    """The highest of: the users file's role for `name`, the mapped groups, the default."""
    candidates: list[str] = [mapping.roles[group] for group in groups if group in mapping.roles]
    known = auth.users().users.get(name)
    if known is not None:
        candidates.append(known.role)
    if not candidates and mapping.default_role is not None:
        candidates.append(mapping.default_role)
    return max(candidates, key=role_rank) if candidates else None


def _by_session(auth: AuthContext) -> Identity | None:
    session_id = session.get("sid")
    if not isinstance(session_id, str):
        return None
    found = read_session(auth.connection, session_id)
    if found is None or found.role not in ROLES:
        return None
    if found.method == "password":
        user = auth.users().users.get(found.user)
        if user is None or not user.password_hash:
            return None  # removed since: the session ends with the user
        return Identity(user.name, user.role, "password")
    return Identity(found.user, found.role, found.method)
