"""The one gate every request passes: identify the caller, check the route's role, check CSRF.

Browsers asking for a page are sent to the sign-in page; scripts get a JSON 401 or 403. When no
one can sign in yet (a fresh install), every answer says how to add the first user: nothing is
readable anonymously, not even from loopback, because a proxy on the same host makes every
request look local.
"""

from __future__ import annotations

from flask import Response, g, redirect, request, url_for
from flask_wtf.csrf import CSRFProtect

from webhook.auth.context import auth_context
from webhook.auth.identity import SCRAPER, Identity, Refused, identify
from webhook.auth.policy import PUBLIC, READ_METHODS, needed_role
from webhook.errors import problem

NO_USERS = (
    "no user can sign in yet: on the deployhook host run "
    "`deployhook user add NAME --role admin` (or configure auth.oidc / auth.trusted_header), "
    "then sign in at /login"
)
SIGN_IN = "sign in first: open /login in a browser, or send Authorization: Bearer <token>"


def current_identity() -> Identity | None:
    found = g.get("identity")
    return found if isinstance(found, Identity) else None


def guard(csrf: CSRFProtect) -> Response | None:
    """before_request: None lets the request through; a response refuses it."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404 or 405: nothing to protect, and nothing is shown
    auth = auth_context()
    try:
        identity = identify(request, auth)
    except Refused as error:
        return _unauthorized(str(error))
    g.identity = identity
    needed = needed_role(endpoint, request.method)
    if needed != PUBLIC:
        if identity is None:
            return _sign_in_first(auth.anyone_can_sign_in())
        if not _allowed(identity, needed, endpoint):
            return problem(403, f"{identity.name} is {identity.role}; this needs {needed}")
    changes = request.method not in READ_METHODS and endpoint != "hooks.receive"
    if changes and (identity is None or identity.by_cookie):
        csrf.protect()  # raises CSRFError (400) when the form's token is missing or wrong
    return None


def _allowed(identity: Identity, needed: str, endpoint: str | None) -> bool:
    if identity.role == SCRAPER:
        return endpoint == "metrics"
    return identity.may(needed)


def _sign_in_first(anyone: bool) -> Response:
    if request.method == "GET" and _asks_for_a_page() and anyone:
        # Only the path and query go back as `next`: never another host.
        response = redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return response  # type: ignore[return-value]
    return _unauthorized(SIGN_IN if anyone else NO_USERS)


def _asks_for_a_page() -> bool:
    """A browser names text/html; curl and scripts send */* and get the JSON 401 instead."""
    if request.path.startswith(("/api/", "/metrics")):
        return False
    return any(value == "text/html" for value, _ in request.accept_mimetypes)


def _unauthorized(message: str) -> Response:
    response = problem(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="deployhook"'
    return response
