"""argv for image names on the Docker engine: point a name at an image, remove a name, and
for `images: pull` read an image's registry digests and pull one by digest.

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


REPO_DIGESTS_FORMAT = "{{json .RepoDigests}}"


def repo_digests(image: str) -> list[str]:
    """The `repo@sha256:...` names the engine knows `image` by, printed as a JSON list."""
    return ["docker", "image", "inspect", "--format", REPO_DIGESTS_FORMAT, "--", image]


def pull_digest(reference: str) -> list[str]:
    """Pull exactly `reference` (`repo@sha256:...`): what a revert or rollback starts again."""
    return ["docker", "pull", "--quiet", "--", reference]
