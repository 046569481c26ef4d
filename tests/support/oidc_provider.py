"""A small OpenID Connect provider on loopback, built from authlib's server pieces.

Authorization code flow with PKCE and an RS256-signed ID token; discovery and keys at the
usual places. Its "login" is one click for one configured person (no password): the browser
comes, the person clicks Continue, and is sent back with a code; deployhook does the rest.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from markupsafe import escape

CLIENT_ID = "deployhook-test"
CLIENT_SECRET = "client-secret-for-the-loopback-provider"


@dataclass
class Person:
    email: str
    groups: list[str]


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    redirect_uri: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: Person
    nonce: str | None
    challenge: str | None
    challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Provider:
    """The provider's state: one client, one person who signs in, issued codes, the key."""

    def __init__(self, issuer: str, redirect_uri: str, person: Person) -> None:
        self.issuer = issuer
        self.client = Client(redirect_uri)
        self.person = person
        self.codes: dict[str, Code] = {}
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.logins = 0


def provider_app(provider: Provider) -> Flask:
    app = Flask("loopback-oidc")
    server = AuthorizationServer(
        app,
        query_client=lambda client_id: provider.client if client_id == CLIENT_ID else None,
        save_token=lambda token, request: None,
    )

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
            "client_secret_basic",
            "client_secret_post",
        ]

        def save_authorization_code(self, code: str, request: Any) -> None:
            data = request.payload.data
            provider.codes[code] = Code(
                code, request.client.client_id, request.payload.redirect_uri, request.scope,
                request.user, data.get("nonce"), data.get("code_challenge"),
                data.get("code_challenge_method"),
            )  # fmt: skip

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = provider.codes.get(code)
            return found if found and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> Person:
            return authorization_code.user

    class Challenge(CodeChallenge):  # type: ignore[misc]
        def get_authorization_code_challenge(self, authorization_code: Code) -> str | None:
            return authorization_code.challenge

        def get_authorization_code_challenge_method(self, authorization_code: Code) -> str | None:
            return authorization_code.challenge_method

    class IdToken(OpenIDCode):  # type: ignore[misc]
        def resolve_client_private_key(self, client: Client) -> RSAKey:
            return provider.key

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            return {"iss": provider.issuer, "aud": [client.get_client_id()]}

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": "test-key"}

        def exists_nonce(self, nonce: str, request: Any) -> bool:
            return any(code.nonce == nonce for code in provider.codes.values())

        def generate_user_info(self, user: Person, scope: str) -> UserInfo:
            return UserInfo(sub=user.email, email=user.email, groups=user.groups)

    server.register_grant(CodeGrant, [Challenge(required=True), IdToken(require_nonce=True)])

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(
            issuer=provider.issuer,
            authorization_endpoint=f"{provider.issuer}/authorize",
            token_endpoint=f"{provider.issuer}/token",
            jwks_uri=f"{provider.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(keys=[provider.key.as_dict(private=False)])

    @app.get("/authorize")
    def authorize() -> Any:
        """The provider's own page, as a real one has: the person clicks to go on, so the way
        back to deployhook is a navigation another site started (SameSite=Strict matters)."""
        query = escape(request.query_string.decode())
        return f'<a id="consent" href="/authorize/consent?{query}">Continue</a>'

    @app.get("/authorize/consent")
    def consent() -> Any:
        provider.logins += 1
        return server.create_authorization_response(grant_user=provider.person)

    @app.post("/token")
    def token() -> Any:
        return server.create_token_response(request)

    return app
