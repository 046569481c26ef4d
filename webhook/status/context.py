"""What the status views need from the app (settings, Redis) and how they answer errors."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from config import Settings
from jobs.state import Connection
from jobs.state.records import DeployStore
from webhook.errors import problem
from webhook.status.live import StreamSlots

__all__ = ["EXTENSION", "STREAMS", "StatusContext", "context", "problem", "stream_slots"]

EXTENSION = "deployhook.status"
STREAMS = "deployhook.streams"


@dataclass(frozen=True)
class StatusContext:
    settings: Settings
    connection: Connection

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
