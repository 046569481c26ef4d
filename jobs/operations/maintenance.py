"""Backups by hand: take, list, verify, restore, and clone one environment's data into another.

Each action that touches an environment holds its lock for the whole time, taken at once or
refused: it never runs beside a deploy. The lock has no deploy id, so a deploy queued
meanwhile waits on the held list and is queued again when the action ends.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from jobs.database.dumps import SUFFIX
from jobs.database.standby import discard
from jobs.execution.context import DeployContext, new_context, secret_values
from jobs.failures.errors import LockTimeout
from jobs.operations.oplog import OperatorLog
from jobs.operations.targets import OperationError, parse_target
from jobs.state import Connection
from jobs.state.held import release_held
from jobs.state.ids import ENDS_WITH_DEPLOY_ID
from jobs.state.locks import EnvironmentLock, LockOwner
from jobs.state.records import Deploy, DeployStore, new_deploy_id, utcnow

Echo = Callable[[str], None]
# Backup names end with the id of the deploy or action that took them
# (jobs/database/dumps.py).
TAKEN_BY = ENDS_WITH_DEPLOY_ID


def operator_name() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return f"uid {os.getuid()}@{socket.gethostname()}"


@contextmanager
def action_context(
    settings: Settings, connection: Connection, target: str, action: str, echo: Echo | None = None
) -> Iterator[DeployContext]:
    """A DeployContext for `action` on `target`, holding the environment's lock throughout."""
    environment = parse_target(settings, target)
    if environment.database is None:
        raise OperationError(f"{target} has no database configured: nothing to back up or restore")
    owner = LockOwner(
        None, socket.gethostname(), os.getpid(), utcnow(), f"{action} by {operator_name()}"
    )
    lock = EnvironmentLock(connection, environment.target, owner)
    try:
        lock.acquire(0)
    except LockTimeout as error:
        held = str(error).split(";")[0]
        raise OperationError(
            f"{held}: wait for it to finish (or unlock it), then {action} again"
        ) from None
    store = DeployStore(connection)
    record = Deploy(
        new_deploy_id(), environment.project_name, environment.name, "sha", "", "", action
    )
    ctx = new_context(record, settings, store, OperatorLog(
        store, record.id, secret_values(settings), echo
    ), lock)  # fmt: skip
    try:
        yield ctx
    finally:
        discard(ctx)  # a standby a failed restore left (never raises)
        ctx.close()
        lock.release()
        release_held(connection, settings, record.target)


@dataclass(frozen=True)
class BackupFile:
    path: Path
    size: int
    mtime: float
    deploy_id: str | None  # the deploy (or operator action) that took it

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "name": self.path.name,
            "size": self.size,
            "mtime": self.mtime,
            "taken_by": self.deploy_id,
        }


def list_backups(settings: Settings, target: str) -> list[BackupFile]:
    """Finished backups of `target`, newest first (a `.partial` file is never listed)."""
    environment = parse_target(settings, target)
    directory = settings.backup_dir(environment.project_name, environment.name)
    found = []
    for path in directory.glob(f"*{SUFFIX}") if directory.is_dir() else []:
        stat = path.stat()
        taken_by = TAKEN_BY.search(path.name[: -len(SUFFIX)])
        found.append(
            BackupFile(path, stat.st_size, stat.st_mtime, taken_by[0] if taken_by else None)
        )
    return sorted(found, key=lambda b: b.mtime, reverse=True)


def find_backup(settings: Settings, target: str, name: str | None) -> BackupFile:
    """The named backup of `target` (file name or path inside its directory), or the newest."""
    backups = list_backups(settings, target)
    if not backups:
        raise OperationError(f"{target} has no backups yet: take one with `deployhook backup`")
    if name is None:
        return backups[0]
    for backup in backups:
        if name in (backup.path.name, str(backup.path)):
            return backup
    raise OperationError(
        f"no backup {name!r} of {target}: list them with `deployhook backups list {target}`"
    )
