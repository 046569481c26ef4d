"""The handle of one backup being restored into the standby database, in a thread of its own.

Its own module, beneath the deploy's context: the context holds the handle between the
backup stage that starts the restore and the revert that waits for it (jobs/database/standby.py
does both), so the handle must not need the context itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from jobs.failures.errors import StageFailed


@dataclass
class Standby:
    """One backup being restored into the standby database, in a thread of its own."""

    backup: Path
    name: str
    foreign: bool
    error: str | None = None
    cancelled: bool = False
    seconds: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def wait(self, timeout: float) -> None:
        """Until the standby holds the whole backup; StageFailed if it cannot."""
        if not self.done.wait(timeout):
            raise StageFailed(
                "restore",
                f"expected {self.backup.name} restored into {self.name} within {timeout:.0f}s, "
                "got a restore still running",
            )
        if self.error is not None:
            raise StageFailed(
                "restore",
                f"expected {self.backup.name} restored into {self.name}, got: {self.error}; "
                "the live database was not touched",
            )
