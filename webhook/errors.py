"""The intake's exception family: each one is an HTTP answer with a short, safe message.

Messages go back to the caller verbatim, so they name the failed check in general terms and
never carry a configured value, an expected signature or a piece of the payload.
"""

from __future__ import annotations

from flask import Response, jsonify

# What a 503 tells the caller to wait before trying again (Redis down, queue unavailable).
RETRY_AFTER_SECONDS = 5


class IntakeError(Exception):
    """A delivery the intake refuses; `status` and `result` say how to answer and count it."""

    status = 400
    result = "rejected"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(IntakeError):
    """The request or its payload is malformed; the sender must fix it."""


class Unauthorized(IntakeError):
    """A signature or token check failed; nothing was parsed or queued."""

    status = 401
    result = "unauthorized"


class Forbidden(IntakeError):
    """Properly signed, but for a repository this project does not deploy."""

    status = 403


class NotFound(IntakeError):
    status = 404


class TooLarge(IntakeError):
    status = 413
    result = "too_large"


class RequestTimeout(IntakeError):
    """The body did not arrive in time; the connection is closed to free its worker."""

    status = 408
    result = "timeout"


class Unavailable(IntakeError):
    """Redis cannot take the deploy right now; the sender should retry."""

    status = 503
    result = "unavailable"


def problem(status: int, message: str) -> Response:
    """A JSON error: `{"error": message}` with `status`; the message never holds a secret."""
    response = jsonify(error=message)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
