"""argv for pinning images by digest: read RepoDigests, pull by digest, retag by digest.

Image names and digests come from the Compose model and from the engine's own answers, never
from a request.
"""

from __future__ import annotations

REPO_DIGESTS_FORMAT = "{{json .RepoDigests}}"


def repo_digests(image: str) -> list[str]:
    """The `repo@sha256:...` names the engine knows image `image` by, as a JSON list."""
    return ["docker", "image", "inspect", "--format", REPO_DIGESTS_FORMAT, "--", image]


def pull(reference: str) -> list[str]:
    return ["docker", "pull", "--quiet", "--", reference]


def tag(source: str, target: str) -> list[str]:
    return ["docker", "tag", "--", source, target]
