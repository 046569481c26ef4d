"""argv for image names on the Docker engine: point a name at an image, remove a name.

Reads (which image a name points at, what runs) go through the Docker SDK; every change goes
through the runner as one of these, so the deploy's command history lists it. Deliberately
absent: `--force`, `prune` of any kind, anything about volumes.
"""

from __future__ import annotations


def tag_image(image: str, name: str) -> list[str]:
    """Make `name` (repo[:tag]) refer to `image` (an ID or another name)."""
    return ["docker", "image", "tag", image, name]


def untag_image(name: str) -> list[str]:
    """Remove the name `name`; the image goes too only when no other name or container uses it."""
    return ["docker", "image", "rm", name]
