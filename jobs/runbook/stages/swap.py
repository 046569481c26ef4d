"""Start the new images: rolling for the zero-downtime services, then `compose up` for the rest.

Never `down`, never `-v`. The rolling services go first (jobs/runbook/stages/rolling.py: the
deploy's `swap_service`, the revert's and a restore's `swap_service_back`); the plain
`compose up --detach --no-build` that follows runs while their old containers wait to leave
the name, and recreates every other changed service. It leaves out the services whose old
containers are still there (`--no-deps` and the others' names): Compose would stop those at
once, or recreate them. The stage ends once every old container has drained and is gone
(jobs/runbook/stages/retiring.py).
"""

from __future__ import annotations

from jobs.compose.model import read_model
from jobs.compose.zero_downtime import refused_services
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.runbook.stages.rolling import swap_service, swap_service_back
from jobs.swarm import is_swarm
from jobs.swarm.swap import swap as swarm_swap


def swap(ctx: DeployContext, stage: str = "swap") -> None:
    if is_swarm(ctx.environment):
        swarm_swap(ctx, stage)  # the stack deploy, watched until converged (jobs/swarm/swap.py)
        return
    names = ctx.environment.zero_downtime
    retiring = len(ctx.retiring)
    everything: list[str] = []
    if names:
        # The build read this commit's model; a revert or restore has moved the checkout since.
        model = ctx.compose_model if stage == "swap" and ctx.compose_model else None
        model = model or read_model(ctx.runner, ctx.compose)
        refused = refused_services(model, names)
        problems = [line for lines in refused.values() for line in lines]
        if problems and stage == "swap":
            raise StageFailed(stage, "; ".join(problems))
        for line in problems:  # putting a version back beats refusing: recreated instead
            ctx.log.info(f"{line}: recreated instead")
        for name in names:
            service = model.service(name)
            if service is not None and name not in refused:
                if stage == "swap":
                    swap_service(ctx, service)
                else:
                    swap_service_back(ctx, service, stage)
        everything = list(model.services)
    _up(ctx, stage, everything)  # beside the settle of the old containers
    for rolled in ctx.retiring[retiring:]:
        rolled.wait_left()  # only the new version in the name, before the health stage
    if stage == "swap":
        # The old ones drain on. An old container that left the name still answers, and a
        # proxy reaches it through a connection it keeps alive (Caddy pools them by
        # `api:8000`, not by address) or a lookup up to 2 s old (nginx): the health stage
        # reads the release on its own containers too, or waits until the old ones are gone
        # (jobs/runbook/stages/direct_health.py), never passing on the version that left.
        return
    # The revert's and a restore's health read through the proxy alone: after the drains.
    # A stopped container answers nothing, so no wait for the proxies to forget it is needed.
    for rolled in ctx.retiring[retiring:]:
        rolled.wait()


def _up(ctx: DeployContext, stage: str, everything: list[str]) -> None:
    """`compose up` of every service but those whose old containers drain (Compose would
    stop them at once, or recreate them: they run the old configuration)."""
    draining = {r.service.name for r in ctx.retiring if r.container_ids()}
    others = [name for name in everything if name not in draining]
    orphans = ctx.environment.compose.remove_orphans
    if not draining:
        argv = ctx.compose.up(remove_orphans=orphans)
    elif others:
        argv = ctx.compose.up(others, remove_orphans=orphans, no_deps=True)
    else:
        return
    try:
        ctx.runner.run(argv, timeout=ctx.environment.timeouts.swap)
    except CommandFailed as error:
        raise StageFailed(stage, str(error), command=error) from None
