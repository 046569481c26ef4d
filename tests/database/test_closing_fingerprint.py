"""The migration's closing fingerprint, read beside the swap: every stage but the swap, and any
revert, starts only once it is in and recorded (real Redis, no Docker: the read is a stand-in)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import redis

from jobs.database.watch import ClosingFingerprint, Fingerprint, settle_database_change
from jobs.execution.context import DeployContext
from jobs.runbook.pipeline import run_steps
from jobs.runbook.table import CHANGES, Stage
from tests.support.contexts import bare_context

BEFORE = Fingerprint("0001", "a" * 64)


@pytest.fixture
def ctx(redis_conn: redis.Redis, tmp_path: Path) -> DeployContext:
    return bare_context(redis_conn, tmp_path)


def _log(ctx: DeployContext) -> list[str]:
    return [line[9:] for line in ctx.store.log(ctx.deploy.id)]


@pytest.mark.parametrize(
    ("after", "change"),
    [(Fingerprint("0002", "a" * 64), "changed"), (BEFORE, "unchanged"), (None, "unknown")],
)
def test_settling_waits_for_the_read_and_records_the_change(
    ctx: DeployContext, after: Fingerprint | None, change: str
) -> None:
    release = threading.Event()

    def read() -> Fingerprint | None:
        release.wait(5)
        return after

    ctx.closing_fingerprint = ClosingFingerprint.start(BEFORE, read)
    threading.Timer(0.2, release.set).start()
    settle_database_change(ctx)
    assert ctx.deploy.database_change == change
    assert ctx.store.get(ctx.deploy.id).database_change == change  # saved with the record
    assert _log(ctx) == [f"database after the migration: {change}"]
    assert ctx.closing_fingerprint is None
    settle_database_change(ctx)  # once only
    assert len(_log(ctx)) == 1


def test_a_read_that_raises_is_unknown_and_logged(ctx: DeployContext) -> None:
    def read() -> Fingerprint | None:
        raise OSError("No space left on device")

    ctx.closing_fingerprint = ClosingFingerprint.start(BEFORE, read)
    settle_database_change(ctx)
    assert ctx.deploy.database_change == "unknown"  # a revert restores
    assert _log(ctx) == [
        "no database fingerprint: OSError: No space left on device",
        "database after the migration: unknown",
    ]


def test_only_the_swap_runs_beside_the_read() -> None:
    """after_migrate hooks may change the schema: they start once the read is in."""
    assert [stage.name for stage in CHANGES if stage.beside_fingerprint] == ["swap"]


def test_the_stage_after_the_swap_starts_once_the_read_is_recorded(ctx: DeployContext) -> None:
    release, seen = threading.Event(), {}
    after = Fingerprint("0002", "b" * 64)

    def read() -> Fingerprint | None:
        release.wait(5)
        return after

    def swap(ctx: DeployContext) -> None:
        seen["swap"] = ctx.deploy.database_change
        release.set()

    def health(ctx: DeployContext) -> None:
        seen["health"] = ctx.deploy.database_change

    ctx.closing_fingerprint = ClosingFingerprint.start(BEFORE, read)
    run_steps(ctx, [Stage("swap", swap, beside_fingerprint=True), Stage("health", health)])
    assert seen == {"swap": None, "health": "changed"}
    assert _log(ctx) == ["== swap", "database after the migration: changed", "== health"]
