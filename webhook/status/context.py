"""What the status views need from the app (settings, Redis) and how they answer errors."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, current_app, jsonify
from redis import Redis

from config import Settings
from jobs.state.records import DeployStore
from webhook.errors import RETRY_AFTER_SECONDS
from webhook.status.live import StreamSlots

EXTENSION = "deployhook.status"
STREAMS = "deployhook.streams"


@dataclass(frozen=True)
class StatusContext:
    settings: Settings
    connection: Redis

    @property
    def store(self) -> DeployStore:
        return DeployStore(self.connection)


def context() -> StatusContext:
    found = current_app.extensions.get(EXTENSION)
    if not isinstance(found, StatusContext):
        raise RuntimeError("webhook.status.register(app, settings, connection) was not called")
    return found


def stream_slots() -> StreamSlots:
    found = current_app.extensions.get(STREAMS)
    if not isinstance(found, StreamSlots):
        raise RuntimeError("webhook.status.register(app, settings, connection) was not called")
    return found


def problem(status: int, message: str) -> Response:
    """A JSON error: `{"error": message}` with `status`; the message never holds a secret."""
    response = jsonify(error=message)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
