"""The migration's fingerprints, read in threads: the opening one beside the checkout and the
build, the closing one beside the swap; every stage but the swap, and any revert, starts only
once the closing one is in and recorded (real Redis, no Docker: the reads are stand-ins)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import redis

from jobs.database.watch import (
    Fingerprint,
    FingerprintRead,
    read_ahead,
    settle_database_change,
)
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

    ctx.fingerprint_before = BEFORE
    ctx.closing_fingerprint = FingerprintRead.start(read, "closing")
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

    ctx.fingerprint_before = BEFORE
    ctx.closing_fingerprint = FingerprintRead.start(read, "closing")
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

    ctx.fingerprint_before = BEFORE
    ctx.closing_fingerprint = FingerprintRead.start(read, "closing")
    run_steps(ctx, [Stage("swap", swap, beside_fingerprint=True), Stage("health", health)])
    assert seen == {"swap": None, "health": "changed"}
    assert _log(ctx) == ["== swap", "database after the migration: changed", "== health"]


DATABASE = {"service": "postgres", "name": "app", "user": "app"}
MIGRATE = {"service": "api", "when": "before_swap"}


@pytest.mark.parametrize(
    ("environment", "backup", "restore_backup", "reads"),
    [
        ({"database": DATABASE, "migrate": MIGRATE}, "b.dump", None, True),
        ({"database": DATABASE, "migrate": {"service": "api"}}, "b.dump", None, True),
        ({"database": DATABASE}, "b.dump", None, False),  # no migration: nothing to compare
        ({"database": DATABASE, "migrate": MIGRATE}, None, None, False),  # no backup taken
        ({"database": DATABASE, "migrate": MIGRATE}, "b.dump", "old.dump", False),  # rollback
    ],
)
def test_read_ahead_only_where_a_migration_compares(
    redis_conn: redis.Redis,
    tmp_path: Path,
    environment: dict[str, object],
    backup: str | None,
    restore_backup: str | None,
    reads: bool,
) -> None:
    ctx = bare_context(redis_conn, tmp_path, **environment)
    ctx.backup, ctx.deploy.restore_backup = backup, restore_backup
    read_ahead(ctx)
    assert (ctx.opening_fingerprint is not None) == reads
    if ctx.opening_fingerprint is not None:
        ctx.opening_fingerprint.wait()  # no Postgres here: the read fails, "unknown"
        assert ctx.opening_fingerprint.value is None
