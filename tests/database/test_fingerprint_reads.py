"""The migration's fingerprints, read in threads: the opening one beside the checkout and the
build, the closing one beside the swap, which ends only once it is in and recorded (so does any
revert) (real Redis, no Docker: the reads are stand-ins)."""

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
    then_settle,
)
from jobs.execution.context import DeployContext
from jobs.failures.errors import LockLost, StageFailed
from jobs.runbook.table import CHANGES, closing_read_beside_swap, migrate_first
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
    """The migration's closing read is started only for the swap, which ends by settling it."""
    after_migrate = [stage.name for stage in CHANGES if stage.action is migrate_first]
    assert after_migrate == ["migrate"]
    names = [stage.name for stage in CHANGES]
    assert names[names.index("migrate") + 1 : names.index("swap")] == ["after_migrate hooks"]
    swap_row = next(stage for stage in CHANGES if stage.name == "swap")
    assert swap_row.action.__name__ == "beside_closing_read"  # then_settle(swap)


HOOK = {"command": ["true"]}


@pytest.mark.parametrize(
    ("environment", "beside"),
    [
        ({}, True),
        ({"hooks": {"after_migrate": [HOOK]}}, False),  # the hook may change the schema
        ({"hooks": {"after_health": [HOOK]}}, True),
        ({"engine": "swarm"}, False),  # read through the swarm's engine API
    ],
)
def test_the_closing_read_goes_beside_the_swap_when_the_swap_comes_next(
    redis_conn: redis.Redis, tmp_path: Path, environment: dict[str, object], beside: bool
) -> None:
    ctx = bare_context(redis_conn, tmp_path, **environment)
    assert closing_read_beside_swap(ctx) is beside


@pytest.mark.parametrize(
    "raised", [None, StageFailed("swap", "api never healthy"), LockLost("crm/dev", "nobody")]
)
def test_the_swap_ends_once_the_read_is_recorded(
    ctx: DeployContext, raised: Exception | None
) -> None:
    """Whatever way the swap ends (a failure reverts; a lost lock is recovered by the next
    run), the change is on the record when it ends, and the read ran beside it."""
    release, seen = threading.Event(), {}
    after = Fingerprint("0002", "b" * 64)

    def read() -> Fingerprint | None:
        release.wait(5)
        return after

    def swap(ctx: DeployContext) -> None:
        seen["during the swap"] = ctx.deploy.database_change
        release.set()
        if raised is not None:
            raise raised

    ctx.fingerprint_before = BEFORE
    ctx.closing_fingerprint = FingerprintRead.start(read, "closing")
    if raised is None:
        then_settle(swap)(ctx)
    else:
        with pytest.raises(type(raised)):
            then_settle(swap)(ctx)
    assert seen == {"during the swap": None}
    assert ctx.store.get(ctx.deploy.id).database_change == "changed"
    assert ctx.closing_fingerprint is None


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
