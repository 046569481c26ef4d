"""Keep the database as it is before a restore overwrites it, so no discarded write is lost.

The copy is a backup like any other (custom format, written atomically, verified by
`pg_restore --list`), named `<environment>-kept-<stamp>-<deploy id>.dump` beside the backups:
`backups list` shows it, retention counts it, and docs/data-safety.md says how to get rows
back from it. It is taken after the writers stopped, so it holds every committed write.

Two ways to get there. A plain owner's restore overwrites the database in place, so the dump
is taken first (`keep_current`), on the critical path. A restore through a standby
(jobs/database/standby.py) renames the live database aside instead (`name_kept_aside`):
nothing to wait for; once the previous version serves again, `dump_kept_aside` dumps that
database and drops it, or, if the dump fails, leaves it in place under its name. Either dump
is then copied off-site (jobs/offsite/copy.py), off the critical path too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jobs.commands import postgres
from jobs.database.dumps import new_dump_path, write_dump
from jobs.database.place import database_exec
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, LockLost, StageFailed
from jobs.offsite.copy import copy_kept

KEPT_LABEL = "kept"
ASIDE = "database "  # kept_database names a database (not yet dumped) with this prefix


def keep_current(ctx: DeployContext, restoring: Path) -> Path:
    """Dump the current database before `restoring` replaces it; name it in the record."""
    database = ctx.environment.database
    if database is None:
        raise StageFailed("restore", "expected a database to keep, got none configured")
    kept = new_dump_path(ctx, f"{ctx.deploy.environment}-{KEPT_LABEL}")
    write_dump(ctx.tools, database, kept, "restore")
    _record(ctx, str(kept), restoring)
    ctx.log.info(
        f"kept the database as it was in {kept} ({kept.stat().st_size} bytes): "
        f"the writes since {_since(restoring):%H:%M:%S} UTC that the restore discards are in it"
    )
    return kept


def name_kept_aside(ctx: DeployContext, name: str, restoring: Path) -> None:
    """Record, before the swap, that the database as it was will live on as the database
    `name`: a worker that dies right after the swap commits leaves it named all the same."""
    _record(ctx, ASIDE + name, restoring)


def unname_kept_aside(ctx: DeployContext) -> None:
    """The swap did not happen: nothing was set aside."""
    ctx.deploy.kept_database = None
    ctx.deploy.kept_writes_since = None
    ctx.save()


def kept_aside_name(kept_database: str | None) -> str | None:
    """The database a record's `kept_database` names as set aside (not yet dumped), if any."""
    kept = kept_database or ""
    return kept.removeprefix(ASIDE) if kept.startswith(ASIDE) else None


def dump_kept_aside(ctx: DeployContext) -> None:
    """Turn a database kept aside into a kept dump and drop it; on failure leave it, named.

    Runs after the previous version is healthy again, so its time costs no one anything.
    Never raises: the writes are safe either way, and the record says where they are.
    """
    database = ctx.environment.database
    name = kept_aside_name(ctx.deploy.kept_database)
    if database is None:
        return
    if name is not None:
        path = new_dump_path(ctx, f"{ctx.deploy.environment}-{KEPT_LABEL}")
        try:
            write_dump(ctx.tools, database, path, "restore", name=name)
            ctx.deploy.kept_database = str(path)
            ctx.save()
            ctx.runner.run(
                postgres.drop_database(database, database_exec(ctx.tools), name),
                timeout=ctx.environment.timeouts.restore,
                extra_env=postgres.connection_env(database),
            )
        except (StageFailed, CommandFailed, LockLost, OSError) as error:
            where = ctx.deploy.kept_database
            ctx.log.info(
                f"the kept writes stay in {where}: turning {name} into a dump failed: {error}"
            )
            return
        ctx.log.info(f"the kept writes are in {path} ({path.stat().st_size} bytes); dropped {name}")
    # The kept dump (a plain owner's, or the one just made) off-site, now that the previous
    # version serves again.
    kept = ctx.deploy.kept_database
    done = ctx.deploy.kept_offsite_snapshot or ctx.deploy.kept_offsite_error
    if kept and not done and Path(kept).is_file():
        copy_kept(ctx, Path(kept))


def _record(ctx: DeployContext, kept: str, restoring: Path) -> None:
    ctx.deploy.kept_database = kept
    stamp = _since(restoring).isoformat(timespec="seconds")
    ctx.deploy.kept_writes_since = stamp.replace("+00:00", "Z")
    ctx.save()


def _since(restoring: Path) -> datetime:
    """When the backup being restored was taken: the discarded writes are the ones after it."""
    return datetime.fromtimestamp(restoring.stat().st_mtime, UTC)
