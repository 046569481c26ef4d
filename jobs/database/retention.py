"""Backup retention: old dumps go after a good deploy, never the ones still needed."""

from __future__ import annotations

import time
from pathlib import Path

from jobs.database.dumps import SUFFIX, backup_dir
from jobs.execution.context import DeployContext


def apply_retention(ctx: DeployContext, keep: set[str]) -> list[Path]:
    """Delete backups past keep_days or beyond keep_count (newest kept); never those in `keep`."""
    settings = ctx.environment.backups
    directory = backup_dir(ctx)
    backups = sorted(directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    cutoff = time.time() - settings.keep_days * 24 * 3600
    removed = []
    for index, backup in enumerate(backups):
        too_many = index >= settings.keep_count
        too_old = backup.stat().st_mtime < cutoff
        if (too_many or too_old) and str(backup) not in keep:
            backup.unlink(missing_ok=True)
            removed.append(backup)
    if removed:
        ctx.log.info(f"retention removed {len(removed)} old backup(s)")
    return removed
