"""The read side of the operator surface: status pages, JSON API, operator actions, metrics.

The app factory calls `register(app, settings, connection)` once; nothing here runs at import.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, request

from config import Settings
from jobs.failures.describe import without_stage
from jobs.report.text import database_note
from jobs.state import Connection
from jobs.state.readback import clean_text
from webhook.auth import register as register_auth
from webhook.status.actions import actions
from webhook.status.api import api
from webhook.status.context import EXTENSION, STREAMS, StatusContext
from webhook.status.formatting import format_span, format_time
from webhook.status.live import StreamSlots
from webhook.status.metrics import metrics_view
from webhook.status.views import pages

__all__ = ["register"]

PACKAGE = Path(__file__).resolve().parent.parent
# Served under /assets so that it never competes with an app-wide /static route.
assets = Blueprint(
    "status_assets",
    __name__,
    static_folder=str(PACKAGE / "static"),
    static_url_path="/assets",
    template_folder=str(PACKAGE / "templates"),
)
# Scripts and styles come only from this server; nothing inline, no frames.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


BLUEPRINTS = (assets, pages, api, actions)
OWN = frozenset({*(blueprint.name for blueprint in BLUEPRINTS), "auth"})


def _secure(response: Response) -> Response:
    if request.blueprint in OWN or request.endpoint == "metrics":
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def _encodable(value: object) -> object:
    return clean_text(value) if isinstance(value, str) else value


def register(app: Flask, settings: Settings, connection: Connection) -> None:
    """Add the status pages, the JSON API, the actions and /metrics to `app`, behind sign-in."""
    app.extensions[EXTENSION] = StatusContext(settings, connection)
    app.extensions[STREAMS] = StreamSlots(settings.server.live_streams)
    app.jinja_env.filters.setdefault("when", format_time)
    app.jinja_env.filters.setdefault("span", format_span)
    app.jinja_env.filters.setdefault("database_note", database_note)
    app.jinja_env.filters.setdefault("without_stage", without_stage)
    # The last line of defence: whatever a stored value holds, a page still encodes as UTF-8.
    app.jinja_env.finalize = _encodable
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.after_request(_secure)
    app.add_url_rule("/metrics", "metrics", metrics_view(settings, connection))
    # Never a status surface without the guard: nothing here is for anonymous eyes.
    register_auth(app, settings, connection)
