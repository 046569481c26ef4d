"""Hooks: the exact argv of each kind, run through the runner on the host with a timeout,
output in the deploy log, no shell, and failures turned into a failed stage."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from config.gates import Hook
from jobs.commands.compose import Compose
from jobs.execution.context import DeployContext, new_context
from jobs.execution.deploylog import DeployLog
from jobs.failures.errors import StageFailed
from jobs.runbook.deploy_hooks import hook_argv, run_hooks
from jobs.runbook.outcome import after_revert_hooks
from jobs.state.records import DeployStore
from tests.gates.conftest import GatedSettings, queued

COMPOSE = Compose(("docker", "compose"), "crm", Path("/srv/crm"), ("compose.yml", "prod.yml"))
BASE = [
    "docker", "compose", "--project-name", "crm", "--project-directory", "/srv/crm",
    "--file", "/srv/crm/compose.yml", "--file", "/srv/crm/prod.yml",
]  # fmt: skip


@pytest.mark.parametrize(
    ("hook", "argv"),
    [
        ({"command": ["./bin/warm", "--all"]}, ["./bin/warm", "--all"]),
        (
            {"service": "api", "command": ["python", "-m", "crm.warm_cache"]},
            [*BASE, "exec", "-T", "api", "python", "-m", "crm.warm_cache"],
        ),
        (
            {"service": "api", "mode": "run", "command": ["flask", "seed"]},
            [*BASE, "run", "--rm", "--no-deps", "-T", "api", "flask", "seed"],
        ),
        (
            {"service": "web", "command": ["sh", "-c", "echo $HOSTNAME > /tmp/x"]},
            [*BASE, "exec", "-T", "web", "sh", "-c", "echo $HOSTNAME > /tmp/x"],
        ),
    ],
)
def test_hook_argv(hook: dict[str, Any], argv: list[str]) -> None:
    """Host hooks run as written; service hooks through compose exec -T or run --rm --no-deps."""
    assert hook_argv(COMPOSE, Hook.model_validate(hook)) == argv


@pytest.fixture
def context(redis_conn: redis.Redis, gated: GatedSettings, tmp_path: Path) -> Any:
    def make(**hooks: list[dict[str, Any]]) -> DeployContext:
        compose = {"files": ["compose.yml"], "project": "app", "command": "docker-compose"}
        settings = gated(path=str(tmp_path), compose=compose, hooks=hooks)
        store = DeployStore(redis_conn)
        record = queued(store)
        return new_context(record, settings, store, DeployLog(store, record.id))

    return make


def _log(ctx: DeployContext) -> str:
    return "\n".join(ctx.store.log(ctx.deploy.id))


def test_host_hooks_run_in_order_in_the_checkout_without_a_shell(
    context: Any, tmp_path: Path
) -> None:
    """Each host hook runs in the environment's checkout; shell words stay plain arguments."""
    ctx = context(after_health=[
        {"command": [sys.executable, "-c", "import os; print('warm in', os.getcwd())"]},
        {"command": ["printf", "%s\\n", "a; touch pwned"]},
    ])  # fmt: skip
    run_hooks(ctx, "after_health")
    log = _log(ctx)
    assert f"warm in {tmp_path}" in log
    # printf's output line (the runner indents output), not the echoed command line.
    assert any(line.endswith("   a; touch pwned") for line in log.splitlines())
    assert not (tmp_path / "pwned").exists()
    assert "hook after_health 2/2 on the host" in log
    assert [command["argv"][0] for command in ctx.store.commands(ctx.deploy.id)] == [
        sys.executable,
        "printf",
    ]


def test_a_failing_hook_is_a_failed_stage_and_stops_the_rest(context: Any, tmp_path: Path) -> None:
    """The first failing hook raises StageFailed with its exit status and last output."""
    ctx = context(before_backup=[
        {"command": [sys.executable, "-c", "print('maintenance refused'); raise SystemExit(4)"]},
        {"command": ["touch", "second"]},
    ])  # fmt: skip
    with pytest.raises(StageFailed) as caught:
        run_hooks(ctx, "before_backup")
    assert caught.value.stage == "before_backup hooks"
    assert "hook 1 failed" in str(caught.value) and "exited 4" in str(caught.value)
    assert "maintenance refused" in str(caught.value)
    assert not (tmp_path / "second").exists()


def test_a_hook_past_its_timeout_is_killed(context: Any) -> None:
    """A hook that outlives its timeout is stopped and fails its stage."""
    ctx = context(after_migrate=[
        {"command": [sys.executable, "-c", "import time; time.sleep(30)"], "timeout": 0.5}
    ])  # fmt: skip
    with pytest.raises(StageFailed, match="ran out of time"):
        run_hooks(ctx, "after_migrate")


def test_a_missing_program_fails_clearly(context: Any) -> None:
    """A hook whose program does not exist fails its stage instead of crashing the deploy."""
    ctx = context(after_health=[{"command": ["/nonexistent/warm-cache"]}])
    with pytest.raises(StageFailed, match="hook 1 could not start: No such file"):
        run_hooks(ctx, "after_health")


def test_after_revert_hooks_are_only_reported(context: Any) -> None:
    """A failing after_revert hook is a failed stage in the history and words in the outcome."""
    ctx = context(after_revert=[{"command": [sys.executable, "-c", "raise SystemExit(2)"]}])
    problem = after_revert_hooks(ctx)
    assert problem.startswith(" (after_revert hooks: hook 1 failed: ") and "exited 2" in problem
    assert [(s.name, s.outcome) for s in ctx.deploy.stages] == [("after_revert hooks", "failed")]
    assert "reported only; the outcome stands" in _log(ctx)
    assert after_revert_hooks(context()) == ""
