"""argv for the plain docker CLI, for single containers Compose has no verb for.

A rolling swap stops and removes one old container by id; `rm` never gets `-v` (anonymous
volumes stay; named volumes are never touched by a container's removal anyway).
"""

from __future__ import annotations

import re

CONTAINER_ID = re.compile(r"^[0-9a-f]{12,64}$")


def _checked(container: str) -> str:
    if not CONTAINER_ID.fullmatch(container):
        raise ValueError(f"expected a container id (12 to 64 hex digits), got {container!r}")
    return container


def stop_container(container: str, grace: int) -> list[str]:
    """SIGTERM (the image's stop signal), then SIGKILL after `grace` seconds."""
    return ["docker", "stop", "-t", str(max(0, grace)), _checked(container)]


def remove_container(container: str) -> list[str]:
    return ["docker", "rm", _checked(container)]
