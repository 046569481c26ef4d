"""Make the database exactly what a backup holds, keeping everything the restore discards.

The one entry point for every restore (a deploy's revert, a rollback that takes the database
back, `backups restore`, `clone-data`):

- a role that may create databases: through a standby (jobs/database/standby.py), restored
  beside the live database while it still serves, then swapped in by rename in one
  transaction. Only the rename waits with the writers stopped; a failure changes nothing.
- a plain owner: stop the writers, dump the database as it is (jobs/database/keep.py), then
  drop what the role owns and restore, in one transaction (jobs/database/dumps.py
  restore_backup); a failure rolls it all back.

Either way the writers are stopped fast: their writes are being discarded (and kept).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jobs.database.dumps import restore_backup
from jobs.database.keep import keep_current, kept_aside_name, name_kept_aside, unname_kept_aside
from jobs.database.standby import (
    can_create_databases,
    configured_database,
    discard,
    kept_exists,
    kept_name,
    prepare,
    swap_in,
)
from jobs.database.writers import stop_writers
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed


def _swapped_already(ctx: DeployContext) -> bool:
    """A worker that died after its swap committed: the database its record names as set aside
    exists, so the live one is the restored backup already. Restoring again would set aside
    the restored copy under a second name and lose the record's pointer to the writes."""
    kept = kept_aside_name(ctx.deploy.kept_database)
    if kept is None or not kept_exists(ctx, kept):
        return False
    ctx.log.info(f"the backup was swapped in before the worker stopped; {kept} holds the writes")
    return True


def restore_database(ctx: DeployContext, backup: Path, *, foreign: bool = False) -> None:
    """Stop the writers, keep the database as it is, restore `backup`; the caller starts the
    services again. Raises (StageFailed, CommandFailed) on the first step that fails."""
    if can_create_databases(ctx):
        if _swapped_already(ctx):
            ctx.deploy.restored_backup = str(backup)
            ctx.save()
            return
        standby = ctx.standby
        if (
            standby is None
            or (standby.backup, standby.foreign) != (backup, foreign)
            or (standby.done.is_set() and standby.error)
        ):
            # No head start (or a failed one): restore now, while the live version still serves.
            discard(ctx)  # a standby of another backup: stop its restore before reusing the name
            standby = prepare(ctx, backup, foreign=foreign, wait=True)
        standby.wait(ctx.environment.timeouts.restore)
        stop_writers(ctx, fast=True)
        kept = kept_name(configured_database(ctx.environment), datetime.now(UTC))
        # Named before the swap: a worker that dies right after its commit leaves it named.
        name_kept_aside(ctx, kept, backup)
        try:
            swap_in(ctx, standby, kept)
        except BaseException:
            unname_kept_aside(ctx)
            raise
        ctx.log.info(
            f"kept the database as it was as the database {kept}: the writes since the backup "
            "that the restore discards are in it"
        )
    else:
        stop_writers(ctx, fast=True)
        kept_dump = keep_current(ctx, backup)
        try:
            restore_backup(ctx.tools, backup, foreign=foreign)
        except CommandFailed as error:
            raise StageFailed(
                "restore",
                f"{error}: rolled back, the database is as it was (also kept in {kept_dump.name})",
            ) from error
    ctx.deploy.restored_backup = str(backup)
    ctx.save()
