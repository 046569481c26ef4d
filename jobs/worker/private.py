"""What deployhook's own processes write is theirs alone: umask 077, a 0700 state directory.

Backups, kept dumps, the state directory (last-good records, the embedded Redis, swarm
files) hold production data and secrets, so the worker, the web app and `deployhook up` run
with umask 077. The commands a deploy runs (git checkouts, builds, hooks) get the usual 022
from the runner instead: a checkout that only its owner could read would break every image
whose app does not run as that user.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
STATE_DIR_MODE = 0o700


def private_process(state_dir: Path | None) -> None:
    """Set this process's umask to 077 and make `state_dir` 0700 (created if absent; left as
    it is when it cannot be, for the work that needs it to say why)."""
    os.umask(PRIVATE_UMASK)
    if state_dir is None:
        return
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=STATE_DIR_MODE)
        if state_dir.stat().st_uid == os.geteuid():
            state_dir.chmod(STATE_DIR_MODE)
    except OSError:
        pass
