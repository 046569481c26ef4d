"""argv for the plain docker CLI: image names (point, remove, and for `images: pull` read an
image's registry digests and pull one by digest), and single containers Compose has no verb for.

Reads (which image a name points at, what runs) go through the Docker SDK; every change goes
through the runner as one of these, so the deploy's command history lists it. A rolling swap
starts a new container by id, moves containers in and out of the service's DNS name
(disconnect, then connect with the aliases they keep), and stops and removes an old one;
stand-ins hold the free addresses below a container while it reconnects (address_holds.py).
Deliberately absent: `--force`, `rm -v`, `prune` of any kind, anything about volumes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

CONTAINER_ID = re.compile(r"^[0-9a-f]{12,64}$")


def tag_image(image: str, name: str) -> list[str]:
    """Make `name` (repo[:tag]) refer to `image` (an ID or another name)."""
    return ["docker", "image", "tag", image, name]


def untag_image(name: str) -> list[str]:
    """Remove the name `name`; the image goes too only when no other name or container uses it."""
    return ["docker", "image", "rm", name]


def _checked(container: str) -> str:
    if not CONTAINER_ID.fullmatch(container):
        raise ValueError(f"expected a container id (12 to 64 hex digits), got {container!r}")
    return container


def stop_container(container: str, grace: int) -> list[str]:
    """SIGTERM (the image's stop signal), then SIGKILL after `grace` seconds."""
    return ["docker", "stop", "-t", str(max(0, grace)), _checked(container)]


def remove_container(container: str) -> list[str]:
    return ["docker", "rm", _checked(container)]


def start_container(container: str) -> list[str]:
    return ["docker", "start", _checked(container)]


NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
ALIAS = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def _network(name: str) -> str:
    if not NETWORK_NAME.fullmatch(name):
        raise ValueError(f"expected a Docker network name, got {name!r}")
    return name


def disconnect_network(network: str, container: str) -> list[str]:
    """Take `container` off `network`: its address and every DNS name it had there go."""
    return ["docker", "network", "disconnect", _network(network), _checked(container)]


def connect_network(network: str, container: str, aliases: list[str]) -> list[str]:
    """Put `container` on `network` answering to exactly `aliases` (plus its own name and id)."""
    argv = ["docker", "network", "connect"]
    for alias in aliases:
        if not ALIAS.fullmatch(alias):
            raise ValueError(f"expected a DNS alias, got {alias!r}")
        argv += ["--alias", alias]
    return [*argv, _network(network), _checked(container)]


def run_stand_in(network: str, image: str, project: str, label: str) -> list[str]:
    """A container that only holds an address of `network` (its image's entrypoint sleeps):
    no capability, no privilege to gain, no writable file, no log, removed once it stops."""
    if not ALIAS.fullmatch(project):
        raise ValueError(f"expected a Compose project name, got {project!r}")
    return [
        "docker", "run", "--detach", "--rm", "--network", _network(network),
        "--label", f"{label}={project}", "--user", "65534:65534", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--read-only", "--log-driver", "none",
        "--", image,
    ]  # fmt: skip


def kill_containers(containers: list[str]) -> list[str]:
    """SIGKILL, at once: for stand-ins, which hold nothing but an address."""
    return ["docker", "kill", *[_checked(container) for container in containers]]


def import_image(archive: Path, name: str, entrypoint: list[str]) -> list[str]:
    """An image whose only layer is the tar `archive`, named `name`, running `entrypoint`."""
    return [
        "docker", "image", "import", "--change", f"ENTRYPOINT {json.dumps(entrypoint)}",
        "--message", "deployhook: holds a network address", str(archive), name,
    ]  # fmt: skip


REPO_DIGESTS_FORMAT = "{{json .RepoDigests}}"


def repo_digests(image: str) -> list[str]:
    """The `repo@sha256:...` names the engine knows `image` by, printed as a JSON list."""
    return ["docker", "image", "inspect", "--format", REPO_DIGESTS_FORMAT, "--", image]


def pull_digest(reference: str) -> list[str]:
    """Pull exactly `reference` (`repo@sha256:...`): what a revert or rollback starts again."""
    return ["docker", "pull", "--quiet", "--", reference]
