"""The swap's one way to run a command: a failed one is the stage's failure, naming the
service whose command failed (real subprocesses, real Redis for the deploy's log)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.swap_commands import run, short_ids
from tests.support.contexts import bare_context

FAILING = ["sh", "-c", "echo 'Error response from daemon: no space left on device' >&2; exit 3"]


@pytest.fixture
def ctx(redis_conn: redis.Redis, tmp_path: Path) -> DeployContext:
    return bare_context(redis_conn, tmp_path)


@pytest.mark.parametrize(
    ("service", "starts"),
    [("api", "api: "), (None, "")],
)
def test_a_failed_command_is_the_stages_failure(
    ctx: DeployContext, service: str | None, starts: str
) -> None:
    with pytest.raises(StageFailed) as raised:
        run(ctx, FAILING, "revert", service)
    failure = raised.value.failure
    assert failure.stage == "revert"
    assert failure.summary.startswith(starts), failure.summary
    assert (failure.argv, failure.exit_code) == (tuple(FAILING), 3)
    assert any("no space left on device" in line for line in failure.lines), failure.lines


def test_a_command_that_succeeds_says_nothing(ctx: DeployContext) -> None:
    assert run(ctx, ["true"], "swap", "api") is None


@pytest.mark.parametrize(
    ("ids", "shown"),
    [
        ([], "none"),
        (["a" * 64], "a" * 12),
        (["a" * 64, "0123456789abcdef"], f"{'a' * 12}, 0123456789ab"),
    ],
)
def test_short_ids(ids: list[str], shown: str) -> None:
    assert short_ids(SimpleNamespace(id=full) for full in ids) == shown
