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
    ("status", "container", "problem"),
    [
        ("running", attrs(), None),
        ("running", attrs(health=None), None),
        # Up and healthy at this instant, but it crashed since this deploy created it.
        ("running", attrs(restarts=1), "api restarted 1 time(s) since this deploy created it"),
        # A container from before this deploy: its old restarts are not this deploy's doing.
        ("running", attrs(restarts=3, created=BEFORE), None),
        ("restarting", attrs(restarting=True, restarts=2), "api is restarting"),
        ("running", attrs(health="unhealthy"), "api is unhealthy"),
        ("running", attrs(health="starting"), "api health is still starting"),
        ("exited", attrs(status="exited", health=None, exit_code=3), "api exited with 3"),
        ("exited", attrs(status="exited", health=None), None),  # a one-off that finished
    ],
)
def test_container_problem(status: str, container: dict[str, Any], problem: str | None) -> None:
    assert container_problem("api", status, container, SINCE) == problem


def test_restarts_count_only_with_a_deploy_start() -> None:
    """No start time known (never for a deploy that runs): only what Docker shows now."""
    assert container_problem("api", "running", attrs(restarts=1), "") is None
