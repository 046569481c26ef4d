"""Sign in (password or OpenID Connect), sign out, and the audit log (page and JSON lines)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue

from jobs.state import audit
from jobs.state.records import utcnow
from jobs.state.sessions import SessionData, close_session, open_session
from webhook.auth.context import AuthContext, auth_context
from webhook.auth.guard import NO_USERS, current_identity
from webhook.auth.identity import role_for
from webhook.auth.oidc import FLOW_COOKIE, FLOW_SECONDS, OidcClient, OidcError

auth = Blueprint("auth", __name__)
OIDC = "deployhook.oidc"
AUDIT_PAGE_ENTRIES = 200


def safe_next(value: str | None) -> str:
    """Only a path on this server: `//evil.example` and `/\\evil` are protocol-relative URLs."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


def _login_page(
    ctx: AuthContext, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    oidc = ctx.settings.auth.oidc
    passwords = any(user.password_hash for user in ctx.users().users.values())
    return render_template(
        "login.html",
        error=error,
        no_users=None if ctx.anyone_can_sign_in() else NO_USERS,
        passwords=passwords or oidc is None,
        oidc_label=oidc.label if oidc else None,
        next=safe_next(request.args.get("next") or request.form.get("next")),
    ), status


def _sign_in(ctx: AuthContext, name: str, role: str, method: str) -> None:
    session.clear()  # a fresh session on every sign-in: no fixation
    lifetime = int(ctx.settings.auth.sessions.lifetime_hours * 3600)
    session["sid"] = open_session(
        ctx.connection, SessionData(name, role, method, utcnow()), lifetime
    )
    session.permanent = True
    ctx.audit("login", name, method=method, role=role)


@auth.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    ctx = auth_context()
    if request.method == "GET":
        return _login_page(ctx)
    name = request.form.get("username", "").strip()[:100]
    user = ctx.users().check_password(name, request.form.get("password", ""))
    if user is None:
        ctx.audit("login-failed", name or "?", method="password", outcome="refused")
        return _login_page(ctx, "wrong user name or password", 401)
    _sign_in(ctx, user.name, user.role, "password")
    return redirect(safe_next(request.form.get("next")))


@auth.post("/logout")
def logout() -> ResponseReturnValue:
    ctx = auth_context()
    identity = current_identity()
    session_id = session.get("sid")
    session.clear()
    if isinstance(session_id, str):
        close_session(ctx.connection, session_id)
        if identity is not None:
            ctx.audit("logout", identity.name, method=identity.method, role=identity.role)
    return redirect(url_for("auth.login"))


def oidc_client(ctx: AuthContext) -> OidcClient | None:
    settings = ctx.settings.auth.oidc
    if settings is None:
        return None
    found = current_app.extensions.get(OIDC)
    if not isinstance(found, OidcClient):
        found = current_app.extensions[OIDC] = OidcClient(settings, str(current_app.secret_key))
    return found


def _callback_url() -> str:
    return url_for("auth.oidc_callback", _external=True)


@auth.get("/login/oidc")
def oidc_start() -> ResponseReturnValue:
    ctx = auth_context()
    client = oidc_client(ctx)
    if client is None:
        return _login_page(ctx, "single sign-on is not configured (auth.oidc)", 404)
    try:
        url, flow = client.start(
            url_for("auth.oidc_callback", _external=True), safe_next(request.args.get("next"))
        )
    except OidcError as error:
        return _login_page(ctx, str(error), 502)
    response = redirect(url)
    response.set_cookie(
        FLOW_COOKIE, flow, max_age=FLOW_SECONDS, httponly=True, samesite="Lax",
        secure=ctx.settings.auth.sessions.secure_cookie, path=url_for("auth.oidc_callback"),
    )  # fmt: skip
    return response


@auth.get("/login/oidc/callback")
def oidc_callback() -> ResponseReturnValue:
    ctx = auth_context()
    client = oidc_client(ctx)
    if client is None or ctx.settings.auth.oidc is None:
        return _login_page(ctx, "single sign-on is not configured (auth.oidc)", 404)
    if request.args.get("error"):
        ctx.audit(
            "login-failed",
            "?",
            method="oidc",
            outcome="refused",
            detail=request.args["error"][:100],
        )
        return _login_page(ctx, "the identity provider refused the sign-in", 401)
    try:
        claims, after = client.finish(
            request.cookies.get(FLOW_COOKIE),
            request.url,
            url_for("auth.oidc_callback", _external=True),
        )
    except OidcError as error:
        ctx.audit("login-failed", "?", method="oidc", outcome="refused", detail=str(error))
        return _login_page(ctx, str(error), 401)
    role = role_for(claims.username, claims.groups, ctx.settings.auth.oidc, ctx)
    if role is None:
        ctx.audit("login-failed", claims.username, method="oidc", outcome="no role")
        return _login_page(ctx, f"{claims.username} has no role here: ask an admin", 403)
    _sign_in(ctx, claims.username, role, "oidc")
    # The provider's redirect was a cross-site navigation, and a browser keeps treating the
    # redirects that follow it as cross-site: the Strict session cookie would not be sent to
    # the next page. A page of our own that moves on starts a same-site navigation instead.
    response = current_app.make_response(
        render_template("signed_in.html", next=safe_next(after), name=claims.username)
    )
    response.delete_cookie(FLOW_COOKIE, path=url_for("auth.oidc_callback"))
    return response


@auth.get("/audit")
def audit_page() -> ResponseReturnValue:
    ctx = auth_context()
    return render_template("audit.html", entries=audit.newest(ctx.connection, AUDIT_PAGE_ENTRIES))


@auth.get("/api/audit")
def audit_export() -> ResponseReturnValue:
    """Every kept audit entry, oldest first, as JSON lines."""
    entries = audit.export(auth_context().connection)
    first = next(entries, None)  # Redis down: a 503 here, not a stream that breaks off

    def lines() -> Iterator[str]:
        if first is not None:
            yield audit.to_line(first) + "\n"
        for entry in entries:
            yield audit.to_line(entry) + "\n"

    return Response(stream_with_context(lines()), mimetype="application/x-ndjson")
