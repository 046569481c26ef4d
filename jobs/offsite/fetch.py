"""Bring a backup back from the restic repository when the host no longer has it.

The file comes back under its own name in the environment's backup directory, written aside,
verified by `pg_restore --list` like any backup, then renamed: what a restore then reads is
byte for byte what was copied. Used by a revert whose backup file is gone, a rollback whose
backup retention removed, and the operator's restore and clone-data from an off-site copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from jobs.commands import restic
from jobs.database.dumps import backup_dir, verify_backup
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.offsite.repository import OffsiteCopy, OffsiteError, configured, list_copies, run_restic


def fetch_copy(
    ctx: DeployContext, copy: OffsiteCopy, directory: Path | None = None, *, verify: bool = True
) -> Path:
    """The copy's file in `directory` (default: the backup directory); fetched if not there.
    `verify: False` for a copy another environment's database verifies (clone-data)."""
    offsite = configured(ctx.tools)
    directory = directory or backup_dir(ctx)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / copy.name
    if final.is_file():
        return final
    partial = final.with_name(final.name + ".partial")
    partial.touch(mode=0o600)  # a backup is private from its first byte, as dumps are
    try:
        run_restic(
            ctx.tools, restic.dump(offsite, copy.id, copy.name), stdout_path=partial, quiet=True
        )
        database = ctx.environment.database
        if database is not None and verify:
            verify_backup(ctx.tools, database, partial, "restore")
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    ctx.deploy.fetched_snapshot = copy.short_id
    ctx.save()
    ctx.log.info(f"fetched {copy.name} from off-site snapshot {copy.short_id}")
    return final


def fetch_missing(ctx: DeployContext, path: Path) -> Path:
    """Put back the backup `path` from its off-site copy (it must be one of this environment's).

    The snapshot this deploy recorded is tried first; else any copy of a file of that name.
    """
    copies = list_copies(ctx.tools)
    recorded = ctx.deploy.offsite_snapshot if ctx.backup == str(path) else None
    found = next(
        (c for c in copies if recorded and c.short_id == recorded[:8] and c.name == path.name),
        None,
    ) or next((c for c in copies if c.name == path.name), None)
    if found is None:
        raise OffsiteError(f"expected an off-site copy of {path.name}, got none in the repository")
    fetched = fetch_copy(ctx, found, path.parent)
    if fetched != path:  # pragma: no cover - the name is the path's own
        raise StageFailed("restore", f"expected {path}, fetched {fetched}")
    return fetched


def local_or_offsite(ctx: DeployContext, path: Path) -> Path:
    """`path` when the host has it; else fetched from off-site when a repository is set."""
    if path.is_file() or ctx.environment.backups.offsite is None:
        return path
    ctx.log.info(f"{path.name} is not on this host: fetching it from the off-site repository")
    return fetch_missing(ctx, path)
