"""Run the migration: before the swap in a one-off container of the new image, or after it.

before_swap (`compose run --rm --no-deps`): the old version keeps serving while the new schema
is put in place, so the migration must be backward compatible (expand/contract,
docs/zero-downtime.md); a failed one has not touched the running containers.
after_swap (the default, `compose exec`): inside the freshly started service.
"""

from __future__ import annotations

from jobs.database.watch import watch_database
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.swarm import is_swarm
from jobs.swarm.migrate import run_migration_task


def migrates_before_swap(ctx: DeployContext) -> bool:
    settings = ctx.environment.migrate
    return settings is not None and settings.when == "before_swap"


def migration_argv(ctx: DeployContext) -> list[str]:
    """The migration command as the environment's `migrate.when` places it."""
    settings = ctx.environment.migrate
    if settings is None:
        raise ValueError("no migration configured")
    if settings.when == "before_swap":
        return ctx.compose.run(settings.service, settings.command)
    return ctx.compose.exec(settings.service, settings.command)


def migrate(ctx: DeployContext, *, closing_beside: bool = False) -> None:
    """Run the migration between two fingerprints of the database. With `closing_beside`,
    the closing one is read in the background, beside the stage that follows, which must
    wait for it (`settle_database_change`) before its end."""
    settings = ctx.environment.migrate
    if settings is None:
        ctx.log.info("no migration configured")
        return
    try:
        with watch_database(ctx, closing_beside=closing_beside):
            if is_swarm(ctx.environment):
                run_migration_task(ctx, settings)  # a one-off task (jobs/swarm/migrate.py)
            else:
                ctx.runner.run(migration_argv(ctx), timeout=settings.timeout)
    except CommandFailed as error:
        raise StageFailed("migrate", str(error), command=error) from None
