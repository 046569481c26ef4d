"""Take, verify and restore backups by hand, and clone one environment's data into another.

Restores follow the revert's order (jobs/database/restore.py): stop the writers, keep the
database as it is (renamed aside, or a verified dump taken once they stopped: either holds every
committed write), restore, start them, health-check. The kept copy is what undoes the restore.
"""

from __future__ import annotations

from pathlib import Path

from config import Settings
from jobs.compose.images import running_images
from jobs.database.dumps import verify_backup
from jobs.database.keep import dump_kept_aside
from jobs.database.restore import restore_database
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.offsite.action import unlocked_context
from jobs.offsite.choosing import backup_to_restore
from jobs.offsite.copy import copy_backup
from jobs.operations.maintenance import Echo, action_context, find_backup
from jobs.operations.targets import OperationError
from jobs.runbook.stages.backup import take_backup
from jobs.runbook.stages.health import wait_healthy
from jobs.runbook.stages.swap import swap
from jobs.state import Connection


def backup_now(settings: Settings, connection: Connection, target: str, echo: Echo) -> Path:
    """A backup like a deploy's: atomic, verified, in the environment's backup directory."""
    with action_context(settings, connection, target, "backup", echo) as ctx:
        return _take(ctx)


def verify(
    settings: Settings, connection: Connection, target: str, name: str | None, echo: Echo
) -> Path:
    """Check a backup (default: the newest) is non-empty and fully readable by pg_restore."""
    backup = find_backup(settings, target, name)
    with action_context(settings, connection, target, "verify", echo) as ctx:
        _verify(ctx, backup.path)
    return backup.path


def restore(
    settings: Settings,
    connection: Connection,
    target: str,
    name: str | None,
    echo: Echo,
    *,
    offsite: bool = False,
) -> tuple[Path, str]:
    """Put a backup of `target` back (a local file, or an off-site copy fetched first);
    returns (restored, where the database before it is kept)."""
    with action_context(settings, connection, target, "restore", echo) as ctx:
        backup = backup_to_restore(ctx, name, offsite)
        kept = _restore_into(ctx, backup, foreign=False)
    return backup, kept


def clone(
    settings: Settings,
    connection: Connection,
    source: str,
    target: str,
    fresh: bool,
    echo: Echo,
    *,
    snapshot: str | None = None,
) -> tuple[Path, str]:
    """Restore `source`'s newest backup (or a fresh one, or its off-site copy `snapshot`, or
    `latest`) into `target`; returns (used, safety)."""
    if source == target:
        raise OperationError(f"source and target are both {target}: name two environments")
    if fresh:
        used = backup_now(settings, connection, source, echo)
    elif snapshot is not None:
        used = _fetch_from(settings, connection, source, snapshot, echo)
    else:
        used = find_backup(settings, source, None).path
    with action_context(settings, connection, target, "clone-data", echo) as ctx:
        _verify(ctx, used)
        kept = _restore_into(ctx, used, foreign=True)
    return used, kept


def _fetch_from(
    settings: Settings, connection: Connection, source: str, snapshot: str, echo: Echo
) -> Path:
    """`source`'s off-site copy (`latest`: the newest) in `source`'s backup directory."""
    ctx = unlocked_context(settings, connection, source, "clone-data", echo)
    try:
        # Verified by the target's database next, as every clone's backup is.
        wanted = None if snapshot == "latest" else snapshot
        return backup_to_restore(ctx, wanted, True, verify=False)
    finally:
        ctx.close()


def _verify(ctx: DeployContext, backup: Path) -> None:
    database = ctx.environment.database
    if database is None:  # action_context refuses such environments; this keeps types honest
        raise StageFailed("verify", "expected a database to verify against, got none")
    verify_backup(ctx.tools, database, backup)
    ctx.log.info(f"{backup.name}: readable by pg_restore ({backup.stat().st_size} bytes)")


def _take(ctx: DeployContext) -> Path:
    path = take_backup(ctx)
    if path is None:  # action_context refuses environments without a database
        raise StageFailed("backup", "expected a backup, got none: no database configured")
    copy_backup(ctx)  # off-site too, as a deploy's; `on_failure: stop` makes a failure an error
    return path


def _restore_into(ctx: DeployContext, backup: Path, *, foreign: bool) -> str:
    """Restore, start the writers again, prove health; returns where the old data is kept."""
    ctx.previous_images = running_images(ctx)  # whose writers stop and start again
    ctx.log.info(f"restoring {backup.name} into {ctx.deploy.target}")
    restore_database(ctx, backup, foreign=foreign)
    swap(ctx, "restore")
    wait_healthy(ctx, "restore")
    dump_kept_aside(ctx)
    kept = str(ctx.deploy.kept_database)
    ctx.log.info(f"restored {backup.name}; the database as it was before is kept in {kept}")
    return kept
