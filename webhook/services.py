"""What a request needs from the app: settings, the Redis connection, decoded signing keys."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from config import Settings
from jobs.state import Connection

EXTENSION = "deployhook"


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: Connection
    # project name -> Standard Webhooks HMAC key, for GitLab projects that set signing_key
    signing_keys: dict[str, bytes]


def services() -> Services:
    found = current_app.extensions[EXTENSION]
    if not isinstance(found, Services):
        raise RuntimeError("the app was not built by webhook.app.create_app")
    return found
