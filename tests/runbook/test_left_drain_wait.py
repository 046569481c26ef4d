"""How long the end of a drain a dead worker left is waited for (a table, no Docker)."""

from __future__ import annotations

import pytest

from config import Settings
from jobs.runbook.stages.drains import longest_wait


def _environment(**zero_downtime: object) -> object:
    environment = {
        "trigger": {"branch": "main"},
        "path": "/srv/crm",
        "compose": {"files": ["compose.yml"], "project": "crm"},
        "health": {"url": "http://127.0.0.1:8000/healthz", "port": 8000},
        "zero_downtime": ["api"],
        **zero_downtime,
    }
    project = {
        "repo": "github.com/acme/crm",
        "provider": "github",
        "secret": "s3cret-value-for-tests",
    }
    settings = Settings.model_validate(
        {"projects": {"crm": {**project, "environments": {"dev": environment}}}}
    )
    return settings.environment("crm", "dev")


@pytest.mark.parametrize(
    ("configured", "seconds"),
    [
        ({}, 35.0),  # the default drain is the service's grace, at most 30 s
        ({"zero_downtime_drain": 5}, 35.0),
        ({"zero_downtime_drain": 600}, 605.0),  # a long drain is waited out, not cut short
        ({"zero_downtime_drain": 3600}, 3605.0),
    ],
)
def test_a_left_drain_is_waited_for_as_long_as_it_may_run(
    configured: dict[str, object], seconds: float
) -> None:
    assert longest_wait(_environment(**configured)) == seconds  # type: ignore[arg-type]
