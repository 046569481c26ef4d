"""The swap's failure texts for a new container that failed keep their cause within the
140-character one-line description (a table, no Docker)."""

from __future__ import annotations

import pytest

from jobs.failures.describe import describe
from jobs.failures.errors import StageFailed
from jobs.failures.finder import WIDTH
from jobs.runbook.stages.container_health import Seen, failed_after_join, removed_unserved

# The longest states a new container is reported in: many restarts, a long status.
SEEN = [
    Seen("running", "unhealthy", 0),
    Seen("running", "starting", 0),
    Seen("restarting", "unhealthy", 12),
    Seen("exited", "none", 1),
    Seen("running", "healthy", 3),
]
SERVICES = ["api", "frontend-api"]


# What `_wait_healthy` (jobs/runbook/stages/rolling.py) raises: at once when Docker's view is
# failed, or at the timeout while it still starts.
CAUSES = [f"new container failed ({seen})" for seen in SEEN if seen.failed] + [
    f"new container not healthy within 600s ({Seen('running', health, 0)})"
    for health in ("starting", "none")
]


@pytest.mark.parametrize("cause", CAUSES)
@pytest.mark.parametrize("service", SERVICES)
def test_removed_unserved_fits_uncut(service: str, cause: str) -> None:
    """Never healthy: the whole text, cause first, is the one-line description, uncut."""
    text = removed_unserved(service, cause)
    line = describe(StageFailed("swap", text).failure)
    assert line == text and len(line) <= WIDTH, (len(line), line)
    assert line.startswith(f"{service}: {cause};")


@pytest.mark.parametrize("seen", SEEN, ids=str)
@pytest.mark.parametrize("service", SERVICES)
def test_failed_after_join_fits_uncut(service: str, seen: Seen) -> None:
    """Failed after joining the name: the whole text, cause first, is the description, uncut."""
    text = failed_after_join(service, seen)
    line = describe(StageFailed("swap", text).failure)
    assert line == text and len(line) <= WIDTH, (len(line), line)
    assert f"new container failed after it joined the name ({seen})" in line
