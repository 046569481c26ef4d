"""What Docker says of one container of a swap: healthy, failed, or not yet either."""

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
