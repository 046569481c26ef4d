"""What Docker says of one container of a swap: healthy, failed, or not yet either; and how
the swap says that a new one failed.

A failure's one-line description is at most 140 characters, cut in the middle when longer
(jobs/failures/finder.py): the swap's texts put the cause first and stay short, so that the
cut never falls on it. Container ids go to the deploy log, not into these texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Seen:
    status: str
    health: str
    restarts: int

    @property
    def healthy(self) -> bool:
        return self.health == "healthy" and not self.failed

    @property
    def failed(self) -> bool:
        """Unhealthy, not running, or restarted: a crash loop is up and even healthy between
        its crashes, so a restart counts however it looks now."""
        return self.health == "unhealthy" or self.restarts > 0 or self.status != "running"

    def __str__(self) -> str:
        return f"{self.status}, health {self.health}, {self.restarts} restart(s)"


def look(container: Any) -> Seen:
    """Docker's view of `container` now (reloaded)."""
    container.reload()
    state = container.attrs.get("State", {})
    return Seen(
        str(state.get("Status")),
        (state.get("Health") or {}).get("Status") or "none",
        int(container.attrs.get("RestartCount") or 0),
    )


def removed_unserved(service: str, cause: str) -> str:
    """New containers that never got healthy (`cause`) were removed; no request reached them."""
    return f"{service}: {cause}; removed unserved, old one(s) kept serving"


def failed_after_join(service: str, seen: Seen) -> str:
    """A new container that crashed, restarted or turned unhealthy after it joined the name,
    before any old one left it; the new ones were removed."""
    cause = f"new container failed after it joined the name ({seen})"
    return f"{service}: {cause}; removed, old one(s) never left"
