"""OpenID Connect sign-in: the authorization code flow with PKCE, through authlib.

The flow's state, nonce and PKCE verifier travel in a short-lived cookie of their own, signed
and SameSite=Lax: the provider sends the browser back with a cross-site navigation, on which a
SameSite=Strict session cookie is not sent. The ID token is checked (signature against the
provider's keys, issuer, audience, expiry, nonce) before anyone is signed in.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from config.auth import Oidc

FLOW_COOKIE = "deployhook_oidc"
FLOW_SECONDS = 600  # a sign-in at the provider must finish within ten minutes
DISCOVERY_SECONDS = 3600  # provider metadata and keys are read again after an hour
TIMEOUT = 10  # seconds for each request to the provider
# Asymmetric only: an ID token signed with a shared secret could be made by anyone holding it.
SIGNING_ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "EdDSA",
]


class OidcError(Exception):
    """The sign-in cannot finish; the message is safe to show (it holds no token)."""


@dataclass(frozen=True)
class Claims:
    username: str
    groups: list[str]


class OidcClient:
    """One provider: its metadata and keys (cached), the redirect, the code exchange."""

    def __init__(self, settings: Oidc, secret_key: str) -> None:
        self.settings = settings
        self.flows = URLSafeTimedSerializer(secret_key, salt="deployhook-oidc-flow")
        self._metadata: dict[str, Any] | None = None
        self._read_at = 0.0
        self._guard = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        with self._guard:
            if self._metadata is None or time.monotonic() - self._read_at > DISCOVERY_SECONDS:
                url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
                self._metadata = _get_json(url)
                self._read_at = time.monotonic()
            return self._metadata

    def _session(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            self.settings.client_id,
            self.settings.client_secret.reveal(),
            scope=" ".join(self.settings.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )

    def start(self, redirect_uri: str, after: str) -> tuple[str, str]:
        """(the provider's URL to send the browser to, the signed flow cookie's value)."""
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        url, _ = self._session(redirect_uri).create_authorization_url(
            self.metadata()["authorization_endpoint"],
            state=state,
            nonce=nonce,
            code_verifier=verifier,
        )
        flow = {"state": state, "nonce": nonce, "verifier": verifier, "next": after}
        return url, self.flows.dumps(flow)

    def finish(
        self, flow_cookie: str | None, callback_url: str, redirect_uri: str
    ) -> tuple[Claims, str]:
        """Check the callback against its flow, exchange the code, check the ID token."""
        if not flow_cookie:
            raise OidcError("the sign-in expired or was started elsewhere: start it again")
        try:
            flow = self.flows.loads(flow_cookie, max_age=FLOW_SECONDS)
        except BadSignature:
            raise OidcError("the sign-in expired or was tampered with: start it again") from None
        session = self._session(redirect_uri)
        session.state = flow["state"]
        metadata = self.metadata()
        try:
            token = session.fetch_token(
                metadata["token_endpoint"],
                authorization_response=callback_url,
                code_verifier=flow["verifier"],
                timeout=TIMEOUT,
            )
        except Exception as error:  # noqa: BLE001 - authlib raises many kinds; all mean "no"
            raise OidcError(f"the provider refused the sign-in ({type(error).__name__})") from None
        claims = self._check_id_token(str(token.get("id_token") or ""), flow["nonce"])
        return self._claims(claims), str(flow["next"])

    def _check_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise OidcError("the provider sent no ID token: is the `openid` scope allowed?")
        keys = KeySet.import_key_set(_get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        try:
            token = jwt.decode(id_token, keys, algorithms=SIGNING_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.metadata()["issuer"]},
                aud={"essential": True, "value": self.settings.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
                leeway=60,
            ).validate(token.claims)
        except (JoseError, ValueError) as error:
            raise OidcError(f"the ID token is not valid ({type(error).__name__})") from None
        return dict(token.claims)

    def _claims(self, claims: dict[str, Any]) -> Claims:
        username = claims.get(self.settings.username_claim) or claims.get("sub")
        if not isinstance(username, str) or not username:
            raise OidcError(f"the ID token has no {self.settings.username_claim} claim")
        groups = claims.get(self.settings.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        return Claims(username, [str(group) for group in groups if isinstance(group, str)])


def _get_json(url: str) -> dict[str, Any]:
    try:
        answer = requests.get(url, timeout=TIMEOUT)
        answer.raise_for_status()
        found = answer.json()
    except (requests.RequestException, json.JSONDecodeError, ValueError) as error:
        raise OidcError(f"cannot read {url} ({type(error).__name__})") from None
    if not isinstance(found, dict):
        raise OidcError(f"{url} did not answer a JSON object")
    return found
