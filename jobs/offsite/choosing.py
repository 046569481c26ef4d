"""Which backup an operator's restore or clone uses: a local file, or an off-site copy.

A name is looked up on this host first; one that is not here (or `--offsite`) is looked up in
the repository by file name or snapshot id, and fetched into the backup directory.
"""

from __future__ import annotations

from pathlib import Path

from config import Settings
from jobs.execution.context import DeployContext
from jobs.offsite.action import unlocked_context
from jobs.offsite.fetch import fetch_copy
from jobs.offsite.repository import OffsiteCopy, choose, list_copies
from jobs.operations.maintenance import find_backup
from jobs.operations.targets import OperationError
from jobs.state import Connection


def backup_to_restore(
    ctx: DeployContext, name: str | None, offsite: bool, *, verify: bool = True
) -> Path:
    """The local backup `name` (default: the newest), else the off-site copy, fetched."""
    if not offsite:
        try:
            return find_backup(ctx.settings, ctx.deploy.target, name).path
        except OperationError:
            if ctx.environment.backups.offsite is None or (name is None and _has_local(ctx)):
                raise
    if ctx.environment.backups.offsite is None:
        raise OperationError(f"{ctx.deploy.target} has no backups.offsite repository")
    ctx.log.info("looking for the backup in the off-site repository")
    copy = choose(list_copies(ctx.tools), name, ctx.deploy.target)
    return fetch_copy(ctx, copy, verify=verify)


def offsite_copies(settings: Settings, connection: Connection, target: str) -> list[OffsiteCopy]:
    """The environment's off-site copies, newest first ([] without a repository)."""
    ctx = unlocked_context(settings, connection, target, "backups list")
    try:
        return list_copies(ctx.tools) if ctx.environment.backups.offsite is not None else []
    finally:
        ctx.close()


def _has_local(ctx: DeployContext) -> bool:
    directory = ctx.settings.backup_dir(ctx.deploy.project, ctx.deploy.environment)
    return directory.is_dir() and any(directory.glob("*.dump"))
