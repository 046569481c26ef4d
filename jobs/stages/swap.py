"""Start the new images: `compose up --detach --no-build`, never `down`, never `-v`."""

from __future__ import annotations

from jobs.context import DeployContext
from jobs.errors import CommandFailed, StageFailed


def swap(ctx: DeployContext, stage: str = "swap") -> None:
    argv = ctx.compose.up(remove_orphans=ctx.environment.compose.remove_orphans)
    try:
        ctx.runner.run(argv, timeout=ctx.environment.timeouts.swap)
    except CommandFailed as error:
        raise StageFailed(stage, f"{error}: {error.output_tail[-400:]}") from None
