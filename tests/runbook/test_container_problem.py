"""The health stage's reading of one container as Docker reports it (a table, no Docker)."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.runbook.stages.health import container_problem

SINCE = "2026-12-06T17:50:00.000Z"  # the deploy's start, as the record keeps it
BEFORE = "2026-12-06T17:49:59.999999999Z"  # Docker's own form, nanoseconds
AFTER = "2026-12-06T17:50:00.000000001Z"


def attrs(
    status: str = "running",
    health: str | None = "healthy",
    restarts: int = 0,
    created: str = AFTER,
    restarting: bool = False,
    exit_code: int = 0,
) -> dict[str, Any]:
    state: dict[str, Any] = {"Status": status, "Restarting": restarting, "ExitCode": exit_code}
    if health:
        state["Health"] = {"Status": health}
    return {"State": state, "RestartCount": restarts, "Created": created}


@pytest.mark.parametrize(
    ("status", "container", "problem", "final"),
    [
        ("running", attrs(), None, False),
        ("running", attrs(health=None), None, False),
        # Up and healthy at this instant, but it crashed since this deploy created it: a restart
        # count never goes down, so no wait can clear it.
        (
            "running",
            attrs(restarts=1),
            "api restarted 1 time(s) since this deploy created it",
            True,
        ),
        # A container from before this deploy: its old restarts are not this deploy's doing.
        ("running", attrs(restarts=3, created=BEFORE), None, False),
        ("restarting", attrs(restarting=True, restarts=2), "api is restarting", True),
        # Restarting, but not this deploy's: it may come up again within the timeout.
        ("restarting", attrs(restarting=True, created=BEFORE), "api is restarting", False),
        # Docker's health may still turn: waited for until the timeout.
        ("running", attrs(health="unhealthy"), "api is unhealthy", False),
        ("running", attrs(health="starting"), "api health is still starting", False),
        # Nothing in the deploy starts an exited container again.
        ("exited", attrs(status="exited", health=None, exit_code=3), "api exited with 3", True),
        (
            "exited",
            attrs(status="exited", health=None, exit_code=3, created=BEFORE),
            "api exited with 3",
            False,
        ),
        ("exited", attrs(status="exited", health=None), None, False),  # a one-off that finished
    ],
)
def test_container_problem(
    status: str, container: dict[str, Any], problem: str | None, final: bool
) -> None:
    """Each Docker state reads as its problem, final only when this deploy's container crashed."""
    found = container_problem("api", status, container, SINCE)
    assert (found and found.text) == problem
    assert (found is not None and found.final) == final


def test_restarts_count_only_with_a_deploy_start() -> None:
    """No start time known (never for a deploy that runs): only what Docker shows now."""
    assert container_problem("api", "running", attrs(restarts=1), "") is None
    found = container_problem("api", "exited", attrs(status="exited", exit_code=1), "")
    assert found is not None and not found.final
