"""Where a swarm deploy keeps its files: override files per deploy, and the secret-name key."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from jobs.execution.context import DeployContext

KEY_BYTES = 32


def override_path(ctx: DeployContext, stage: str) -> Path:
    """<state_dir>/swarm/<project>/<environment>/<deploy id>-<stage>.json"""
    deploy = ctx.deploy
    folder = ctx.settings.state_dir / "swarm" / deploy.project / deploy.environment
    return folder / f"{deploy.id}-{stage}.json"


def names_key(state_dir: Path) -> bytes:
    """The key of secret names' hashes: made once (0600, linked into place whole), then read."""
    path = state_dir / "swarm" / "secret-names.key"
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-names.")
    try:
        with os.fdopen(handle, "wb") as stream:  # mkstemp makes it 0600
            stream.write(secrets.token_bytes(KEY_BYTES))
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(FileExistsError):  # another deploy made it first: use theirs
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes()
