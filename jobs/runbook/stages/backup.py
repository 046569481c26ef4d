"""The backup stage: before anything changes, a verified dump of the database, recorded.

Writing and checking the dump is jobs/database/dumps.py's; the stage names it and records it.
"""

from __future__ import annotations

from pathlib import Path

from jobs.database.dumps import new_dump_path, write_dump
from jobs.execution.context import DeployContext


def take_backup(ctx: DeployContext) -> Path | None:
    database = ctx.environment.database
    if database is None:
        ctx.log.info("no database configured: nothing to back up")
        return None
    final = new_dump_path(ctx, ctx.deploy.environment)
    write_dump(ctx.tools, database, final, "backup")
    ctx.backup = str(final)
    ctx.deploy.backup = str(final)
    ctx.log.info(f"backup written: {final} ({final.stat().st_size} bytes)")
    return final
