"""Run the migration command inside the freshly started service."""

from __future__ import annotations

from jobs.context import DeployContext
from jobs.database import watch_database
from jobs.errors import CommandFailed, StageFailed


def migrate(ctx: DeployContext) -> None:
    settings = ctx.environment.migrate
    if settings is None:
        ctx.log.info("no migration configured")
        return
    try:
        with watch_database(ctx):
            ctx.runner.run(
                ctx.compose.exec(settings.service, settings.command), timeout=settings.timeout
            )
    except CommandFailed as error:
        raise StageFailed("migrate", f"{error}: {error.output_tail[-600:]}") from None
