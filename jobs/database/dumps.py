"""Dumps of an environment's database: where they live, how one is written, verified and
restored in place.

A backup is written under a temporary name, checked (non-empty, and `pg_restore --list` reads
its whole table of contents), then renamed: a file with the final name is always a good backup.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from config.model import Database
from jobs.commands import postgres
from jobs.database.place import database_exec
from jobs.execution.context import DeployContext, Tools
from jobs.failures.errors import CommandFailed, StageFailed

SUFFIX = ".dump"
MB = 1024 * 1024


def backup_dir(ctx: DeployContext) -> Path:
    return ctx.settings.backup_dir(ctx.deploy.project, ctx.deploy.environment)


def new_dump_path(ctx: DeployContext, label: str) -> Path:
    """`<label>-<UTC stamp>-<deploy id>.dump` in the backup directory (which it creates)."""
    directory = backup_dir(ctx)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return directory / f"{label}-{stamp}-{ctx.deploy.id}{SUFFIX}"


def write_dump(
    tools: Tools, database: Database, final: Path, stage: str, *, name: str | None = None
) -> None:
    """Dump the database (or the one called `name`) to `final` atomically: written aside,
    verified, fsynced, renamed."""
    _check_free_space(tools, final.parent, stage)
    partial = final.with_name(final.name + ".partial")
    try:
        _create_private(partial)  # 0600 from its first byte: production data
        tools.runner.run(
            postgres.dump(database, database_exec(tools), name),
            timeout=tools.environment.backups.timeout,
            stdout_path=partial,
            extra_env=postgres.connection_env(database),
            read_only=True,  # reads the database; the file it writes is ours
        )
        verify_backup(tools, database, partial, stage)
        _fsync(partial)
        os.replace(partial, final)
    except CommandFailed as error:
        partial.unlink(missing_ok=True)
        raise StageFailed(stage, str(error), command=error) from None
    except (StageFailed, OSError):
        partial.unlink(missing_ok=True)
        raise


def _create_private(path: Path) -> None:
    """Create (or empty) `path` with mode 0600, whatever the process's umask."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)


def remove_partial(ctx: DeployContext) -> list[Path]:
    """Delete the half-written backup a dead worker left: it is not a backup, only a full disk."""
    removed = sorted(backup_dir(ctx).glob(f"*-{ctx.deploy.id}{SUFFIX}.partial"))
    for partial in removed:
        partial.unlink(missing_ok=True)
    return removed


def verify_backup(tools: Tools, database: Database, path: Path, stage: str = "backup") -> None:
    """Post-condition of a backup: non-empty and fully readable by pg_restore."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        raise StageFailed(stage, f"expected a non-empty backup at {path}, got 0 bytes")
    result = tools.runner.run(
        postgres.list_contents(database, database_exec(tools)),
        timeout=tools.environment.backups.timeout,
        stdin_path=path,
        extra_env=postgres.connection_env(database),
        quiet=True,
        check=False,
        read_only=True,
    )
    if result.exit_code != 0:
        raise StageFailed(
            stage, f"expected pg_restore to read {path.name}, got exit {result.exit_code}"
        )


def restore_backup(tools: Tools, path: Path, *, foreign: bool = False) -> None:
    """A plain owner's restore in place, all or nothing; the caller stops the writers and keeps
    the database first.

    `pg_restore` turns the dump into one SQL transaction, piped into a psql session that first
    drops everything the role owns: objects a failed migration created are gone and data it
    dropped is back, or, on any error or a dump that cannot be read to its end, nothing
    changed at all. Roles that may create databases restore through a standby instead
    (jobs/database/restore.py). `foreign`: the backup is another environment's (clone-data),
    restored under this environment's owner.
    """
    database = tools.environment.database
    if database is None:
        return
    on_host = _host_reads(tools, path)
    where = database_exec(tools)
    tools.runner.run(
        postgres.replace_owned_objects(database, where),
        stdin_from=postgres.restore_script(database, where, foreign=foreign, on_host=on_host),
        stdin_path=path,
        timeout=tools.environment.timeouts.restore,
        extra_env=postgres.connection_env(database),
        quiet=True,  # the script's notices; errors still end the message (the output's tail)
    )


def _host_reads(tools: Tools, path: Path) -> bool:
    """Whether this host's pg_restore reads the dump (an older client refuses a newer archive
    format; none may be installed): then the SQL is made here, not in the database's container."""
    try:
        listed = tools.runner.run(
            postgres.list_contents_on_host(),
            timeout=120,
            stdin_path=path,
            stdout_path=Path(os.devnull),
            check=False,
            quiet=True,
            read_only=True,
        )
    except OSError:
        return False
    return listed.exit_code == 0


def _check_free_space(tools: Tools, directory: Path, stage: str) -> None:
    free = shutil.disk_usage(directory).free
    newest = max(directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, default=None)
    # The last backup's size, twice over, is the best guess of what this one needs.
    needed = max(
        tools.environment.backups.min_free_mb * MB, 2 * newest.stat().st_size if newest else 0
    )
    if free < needed:
        raise StageFailed(
            stage,
            f"expected at least {needed // MB} MB free in {directory}, got {free // MB} MB: "
            "free space or lower backups.keep_count",
        )


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
