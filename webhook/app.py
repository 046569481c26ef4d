"""The Flask application factory: settings in, a ready app out, nothing done at import time."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from config import ConfigError, Settings, load_settings
from jobs.state import RedisError
from jobs.state.connection import check_configured, connect
from webhook.api import api
from webhook.errors import RETRY_AFTER_SECONDS, IntakeError
from webhook.hooks import hooks
from webhook.logs import configure_logging
from webhook.services import EXTENSION, Services
from webhook.signatures import signing_key_bytes
from webhook.status import register as register_status

log = logging.getLogger("deployhook.intake")
# Seconds a request waits for any one Redis reply: more than redis.replica_timeout's limit (4).
REQUEST_REDIS_TIMEOUT = 5.0


def create_app(settings: Settings | None = None) -> Flask:
    """Build the intake; with no settings, load them from DEPLOYHOOK_CONFIG."""
    if settings is None:
        settings = load_settings()
    check_configured(settings)
    configure_logging()
    app = Flask("webhook")
    app.extensions[EXTENSION] = Services(
        settings=settings,
        # Bounded waits, so that a stuck Redis cannot hang a request.
        redis=connect(settings, timeout=REQUEST_REDIS_TIMEOUT),
        signing_keys=_signing_keys(settings),
    )
    app.register_blueprint(hooks)
    app.register_blueprint(api)
    register_status(app, settings, app.extensions[EXTENSION].redis)
    app.register_error_handler(Exception, answer_error)
    return app


def answer_error(error: Exception) -> Response | HTTPException:
    """The one error handler: every failure is `{"error": "..."}`, never a page or a trace."""
    if isinstance(error, HTTPException) and (error.code or 500) < 400:
        return error  # redirects and the like pass through unchanged
    if isinstance(error, IntakeError):
        status, message = error.status, error.message
    elif isinstance(error, HTTPException):
        status, message = error.code or 500, error.description or error.name
    elif isinstance(error, RedisError):
        # Every page and API route: Redis down is a "retry later", never a 500.
        log.warning("Redis is unavailable: %s", type(error).__name__)
        status, message = 503, "Redis is unavailable; retry in a few seconds"
    else:
        log.error("unexpected error", exc_info=error)
        status, message = 500, "internal error: see the server log"
    response = jsonify(error=message)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))  # RFC 9110 15.5.6
    return response


def _signing_keys(settings: Settings) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    problems: list[str] = []
    for name, project in settings.projects.items():
        if project.signing_key is None:
            continue
        try:
            keys[name] = signing_key_bytes(project.signing_key.reveal())
        except ValueError as error:
            problems.append(f"projects.{name}.signing_key: {error}")
    if problems:
        raise ConfigError("configuration", problems)
    return keys
