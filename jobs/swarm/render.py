"""deployhook's override file for `docker stack deploy`: images by digest, configs by content.

The user's Compose files are deployed as they are, followed by one more file that deployhook
writes per deploy (outside the checkout, in the state directory):
- every built or pulled service's `image:` becomes the digest this deploy pushed or resolved
  (`repo@sha256:...`), so what runs can never be a tag that moved;
- every config and secret read from a file gets `name: <stack>_<key>_<hash12>`, the hash of its
  content. Swarm configs and secrets are immutable: a changed file under the old name fails the
  deploy, and a revert needs the old content under its old name. Content names give both: a
  deploy creates the new one beside the old, and a revert finds the old one again. A secret's
  hash is an HMAC under a key kept in the state directory, so its name reveals nothing.
`override` and `content_name` are pure (table-tested).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from jobs.swarm.model import Stack, StackFile

MAX_NAME = 64  # Swarm's limit for config and secret names


def content_name(stack: str, key: str, data: bytes, secret_key: bytes | None = None) -> str:
    """`<stack>_<key>_<hash12>`; a secret's hash is keyed, so its name says nothing of it."""
    if secret_key is None:
        digest = hashlib.sha256(data).hexdigest()[:12]
    else:
        digest = hmac.new(secret_key, data, hashlib.sha256).hexdigest()[:12]
    room = MAX_NAME - len(stack) - len(digest) - 2
    return f"{stack}_{key[: max(room, 1)]}_{digest}"


def override(
    version: str | None,
    images: dict[str, str],
    configs: dict[str, tuple[str, str]],
    secrets: dict[str, tuple[str, str]],
) -> dict[str, Any]:
    """The override document: service -> image; config and secret key -> (name, file).

    A config is given whole (its file and its name): `docker stack deploy` replaces a
    top-level config of an earlier file by a later file's, it does not merge their keys.
    """
    document: dict[str, Any] = {}
    if version is not None:
        document["version"] = version
    if images:
        document["services"] = {name: {"image": ref} for name, ref in sorted(images.items())}
    for section, named in (("configs", configs), ("secrets", secrets)):
        if named:
            document[section] = {
                key: {"name": name, "file": path} for key, (name, path) in sorted(named.items())
            }
    return document


def content_names(
    stack_name: str, files: tuple[StackFile, ...], secret_key: bytes | None = None
) -> dict[str, tuple[str, str]]:
    """key -> (content name, file), for the files whose name the user did not set."""
    return {
        item.key: (
            content_name(stack_name, item.key, item.path.read_bytes(), secret_key),
            str(item.path),
        )
        for item in files
        if item.name is None
    }


def write_override(
    path: Path,
    stack_name: str,
    stack: Stack,
    version: str | None,
    images: dict[str, str],
    secret_key: bytes,
) -> Path:
    """Write the override for `stack` (JSON, which YAML reads) and return its path."""
    document = override(
        version,
        images,
        content_names(stack_name, stack.configs),
        content_names(stack_name, stack.secrets, secret_key),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path
