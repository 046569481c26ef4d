"""Who may use the web surface: where users live, how browsers sign in, how /metrics is read.

Nothing but `/hooks/*` and `/healthz` answers without an identity (webhook/auth/). Users and
their API tokens live in the users file (`deployhook user add`, `deployhook token create`);
single sign-on comes from an OpenID Connect provider or from an auth proxy's trusted header.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from config.secrets import Secret

Role = Literal["viewer", "deployer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "deployer", "admin")
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,100}$")]
Claim = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def cookie_problem(secure_cookie: bool, bind: str) -> str | None:
    """Plain-http cookies are for trying deployhook out on loopback only."""
    host = bind.rpartition(":")[0]
    if secure_cookie or host in LOOPBACK_HOSTS:
        return None
    return (
        "auth.sessions.secure_cookie: false is only for plain http on loopback (server.bind "
        f"127.0.0.1:PORT), not {bind}: put a TLS proxy in front and leave it true"
    )


def role_rank(role: str) -> int:
    """viewer < deployer < admin; anything else ranks below viewer."""
    return ROLES.index(role) + 1 if role in ROLES else 0


def _at_least(value: Secret | None, length: int, hint: str) -> Secret | None:
    if value is not None and len(value.reveal()) < length:
        raise ValueError(f"too short: use at least {length} random characters ({hint})")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sessions(_Strict):
    # Secure cookies travel only over https. Turn off only for plain http on loopback while
    # trying deployhook out (scripts/serve does); behind a TLS proxy, leave it on.
    secure_cookie: bool = True
    lifetime_hours: float = Field(default=12, gt=0, le=24 * 30)
    # Signs session cookies and CSRF tokens; default: made once in <state_dir>/session-secret.
    secret: Secret | None = None

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, value: Secret | None) -> Secret | None:
        return _at_least(value, 32, "make one: openssl rand -hex 32")


class RoleMapping(_Strict):
    """Groups (a claim or a header) to roles; a user in several groups gets the highest."""

    roles: dict[str, Role] = {}
    # Role for someone the provider vouches for but whose groups map to nothing; null: refused.
    default_role: Role | None = None


class Oidc(RoleMapping):
    """OpenID Connect login (authorization code flow with PKCE) against the team's provider."""

    issuer: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")]
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=400)]
    client_secret: Secret
    # Add "groups" (Keycloak, Authentik, Dex) where the provider puts groups behind a scope;
    # some providers (Google) refuse a scope they do not know, so it is not asked by default.
    scopes: list[Claim] = ["openid", "email", "profile"]
    username_claim: Claim = "email"
    groups_claim: Claim = "groups"
    label: Annotated[str, StringConstraints(min_length=1, max_length=80)] = "single sign-on"


class TrustedHeader(RoleMapping):
    """An auth proxy (oauth2-proxy, Authelia, Caddy forward_auth) says who the user is."""

    # Honoured only when the connection comes from one of these (the proxy's own address).
    proxies: list[IPv4Network | IPv6Network] = Field(min_length=1)
    user_header: HeaderName = "Remote-User"
    groups_header: HeaderName | None = "Remote-Groups"


class MetricsAccess(_Strict):
    # Prometheus sends `Authorization: Bearer <token>`; any signed-in viewer may read too.
    token: Secret | None = None
    # A second listener serving only /metrics, without identity (e.g. 127.0.0.1:9108 for a
    # Prometheus on the same host); keep it off public interfaces.
    bind: Annotated[str, StringConstraints(pattern=r"^[^\s]+:[0-9]{1,5}$")] | None = None

    @field_validator("token")
    @classmethod
    def _long_token(cls, value: Secret | None) -> Secret | None:
        return _at_least(value, 16, "make one: openssl rand -hex 32")


class Audit(_Strict):
    keep_days: int = Field(default=90, ge=1, le=3650)
    max_entries: int = Field(default=100_000, ge=100, le=10_000_000)


class Auth(_Strict):
    # Users, password hashes and hashed API tokens; default <state_dir>/users.yml.
    users_path: Path | None = None
    sessions: Sessions = Sessions()
    oidc: Oidc | None = None
    trusted_header: TrustedHeader | None = None
    metrics: MetricsAccess = MetricsAccess()
    audit: Audit = Audit()
