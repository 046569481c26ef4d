"""Keep the database as it is before a restore overwrites it, so no discarded write is lost.

The copy is a backup like any other (custom format, written atomically, verified by
`pg_restore --list`), named `<environment>-kept-<stamp>-<deploy id>.dump` beside the backups:
`backups list` shows it, retention counts it, and docs/data-safety.md says how to get rows
back from it. It is taken after the writers stopped, so it holds every committed write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jobs.context import DeployContext
from jobs.errors import StageFailed
from jobs.stages.backup import new_dump_path, write_dump

KEPT_LABEL = "kept"


def keep_current(ctx: DeployContext, restoring: Path) -> Path:
    """Dump the current database before `restoring` replaces it; name it in the record."""
    database = ctx.environment.database
    if database is None:
        raise StageFailed("restore", "expected a database to keep, got none configured")
    since = datetime.fromtimestamp(restoring.stat().st_mtime, UTC)
    kept = new_dump_path(ctx, f"{ctx.deploy.environment}-{KEPT_LABEL}")
    write_dump(ctx, database, kept, "restore")
    ctx.deploy.kept_database = str(kept)
    ctx.deploy.kept_writes_since = since.isoformat(timespec="seconds").replace("+00:00", "Z")
    ctx.save()
    ctx.log.info(
        f"kept the database as it was in {kept} ({kept.stat().st_size} bytes): "
        f"the writes since {since:%H:%M:%S} UTC that the restore discards are in it"
    )
    return kept
