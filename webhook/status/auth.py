"""Who may run actions: callers that send `Authorization: Bearer <server.token>`.

Actions accept the token only from that header, never from a cookie or a form field, and only
on POST. A browser on another site can neither attach the header to a cross-site form nor send
it from script (that needs a CORS preflight, which deployhook never grants), so no CSRF token
is needed. Read-only pages and API calls need no token at all.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import ParamSpec

from flask import request
from flask.typing import ResponseReturnValue

from webhook.status.context import context, problem

P = ParamSpec("P")
DISABLED = "actions are disabled: set server.token"


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when it is not one."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def token_matches(given: str | None, expected: str) -> bool:
    # compare_digest takes time independent of where the strings differ.
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def require_token(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """Refuse the view unless the request carries the configured bearer token."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        expected = context().settings.server.token
        if expected is None:
            return problem(403, DISABLED)
        given = bearer_token(request.headers.get("Authorization", ""))
        if not token_matches(given, expected.reveal()):
            response = problem(
                401, "missing or wrong token: send the header Authorization: Bearer <server.token>"
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="deployhook"'
            return response
        return view(*args, **kwargs)

    return guarded
