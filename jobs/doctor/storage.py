"""The backup directory: writable, with room for a backup of the database as it is today."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from config import Settings
from jobs.database.dumps import MB, SUFFIX
from jobs.doctor.check import Finding, fail, ok


def needed_bytes(min_free_mb: int, database_size: int | None, newest_backup: int | None) -> int:
    """Room a backup needs: the database's size on disk (a compressed dump is smaller), twice
    the last backup, and backups.min_free_mb, whichever is most."""
    return max(min_free_mb * MB, database_size or 0, 2 * (newest_backup or 0))


def check_backups(
    target: str, settings: Settings, project: str, name: str, database_size: int | None
) -> Finding:
    directory = settings.backup_dir(project, name)
    environment = settings.environment(project, name)
    existing = _nearest_existing(directory)
    if existing is None or not existing.is_dir():
        blocker = existing or directory
        return fail(
            target, "backups", f"{directory} cannot be created: {blocker} is not a directory",
            f"create {directory} for the worker's user, or set backups.dir of {target}",
        )  # fmt: skip
    problem = _write_problem(existing)
    if problem:
        return fail(
            target, "backups", f"{existing} is not writable for this user: {problem}",
            f"chown the directory to the worker's user, or set backups.dir of {target}",
        )  # fmt: skip
    newest = max(directory.glob(f"*{SUFFIX}"), key=os.path.getmtime, default=None)
    needed = needed_bytes(
        environment.backups.min_free_mb,
        database_size,
        newest.stat().st_size if newest else None,
    )
    free = shutil.disk_usage(existing).free
    if free < needed:
        return fail(
            target, "backups",
            f"expected at least {needed // MB} MB free in {existing}, got {free // MB} MB",
            "free space, lower backups.keep_count, or set backups.dir to a larger disk",
        )  # fmt: skip
    where = (
        f"{directory} is writable"
        if existing == directory
        else (f"{directory} can be created ({existing} is writable)")
    )
    room = f"{free // MB} MB free, a backup needs {needed // MB} MB"
    return ok(target, "backups", f"{where}, {room}")


def _nearest_existing(directory: Path) -> Path | None:
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            return candidate
    return None


def _write_problem(directory: Path) -> str | None:
    """Write and remove a scratch file: os.access alone lies for root and on read-only mounts."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".deployhook-doctor-"):
            return None
    except OSError as error:
        return error.strerror or str(error)
