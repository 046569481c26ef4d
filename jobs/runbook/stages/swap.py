"""Start the new images: rolling for the zero-downtime services, `compose up` for the rest.

Never `down`, never `-v`. The rolling services (jobs/runbook/stages/rolling.py: the deploy's
`swap_service`, the revert's and a restore's `swap_service_back`) swap one after the other
while `compose up --detach --no-build --no-deps` of every other service recreates the changed
ones beside them, as a plain deploy would: their boot is not added to the swap's
(jobs/runbook/stages/others_up.py). A rolling
service whose old containers are still there is never in an `up` (Compose would stop them at
once, or recreate them); one with none (nothing served it, or its image did not change) gets
its own `up --no-deps` after. The stage ends once every old container has left the name; a
revert's and a restore's once they have drained and gone (jobs/runbook/stages/retiring.py).
"""

from __future__ import annotations

from jobs.compose import proxy_cache
from jobs.compose.model import read_model
from jobs.compose.proxy_check import read_text
from jobs.compose.zero_downtime import refused_services
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.new_images import without_healthcheck
from jobs.runbook.stages.others_up import OthersUp
from jobs.runbook.stages.rolling import swap_service, swap_service_back
from jobs.runbook.stages.swap_commands import run
from jobs.swarm import is_swarm
from jobs.swarm.swap import swap as swarm_swap


def swap(ctx: DeployContext, stage: str = "swap") -> None:
    if is_swarm(ctx.environment):
        swarm_swap(ctx, stage)  # the stack deploy, watched until converged (jobs/swarm/swap.py)
        return
    names = ctx.environment.zero_downtime
    retiring = len(ctx.retiring)
    if not names:
        _up(ctx, stage, [])
        return
    # The build read this commit's model; a revert or restore has moved the checkout since.
    model = ctx.compose_model if stage == "swap" and ctx.compose_model else None
    model = model or read_model(ctx.runner, ctx.compose)
    refused = refused_services(model, names)
    problems = [line for lines in refused.values() for line in lines]
    if problems and stage == "swap":
        raise StageFailed(stage, "; ".join(problems))
    if stage != "swap":  # the build checked the new images; the previous ones may have none
        lacking = without_healthcheck(ctx, model, ctx.built_images)
        refused.update({service: [why] for service, why in lacking.items()})
        problems += list(lacking.values())
    for line in problems:  # putting a version back beats refusing: recreated instead
        ctx.log.info(f"{line}: recreated instead")
    rolling = [model.services[name] for name in names if name in model.services]
    rolling = [service for service in rolling if service.name not in refused]
    settle = proxy_cache.settle(model, names, ctx.environment.zero_downtime_settle, read_text)
    ctx.log.info(f"settle {settle.seconds:g}s between a join and a leave: {settle.why}")
    # The other services are recreated beside the rolling swaps, as a plain deploy recreates
    # them at once: a worker boots while the new api waits for its first passing healthcheck,
    # not after it (jobs/runbook/stages/others_up.py). A failure reverts them too.
    others = OthersUp(ctx, stage, [n for n in model.services if n not in {s.name for s in rolling}])
    try:
        for service in rolling:
            if stage == "swap":
                swap_service(ctx, service, settle.seconds, others)
            else:
                swap_service_back(ctx, service, settle.seconds, others, stage)
        for rolled in ctx.retiring[retiring:]:
            rolled.wait_left()  # only the new version in the name, before the health stage
        others.start()  # no new container started (taken back, nothing to swap): only now
    finally:
        others.wait()  # a failure comes first: the revert must not race this `up`
    others.raise_failure()
    # A rolling service with none of its old containers out there: nothing served it (it
    # starts now), or its image did not change (`up` recreates it if its config did).
    if rolling:
        _up(ctx, stage, [service.name for service in rolling], others_done=True)
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


def _up(ctx: DeployContext, stage: str, services: list[str], others_done: bool = False) -> None:
    """`compose up` of `services` but those whose old containers drain (Compose would stop
    them at once, or recreate them: they run the old configuration); of every service when
    none is named. `others_done`: the other services are up already (`_beside`)."""
    draining = {r.service.name for r in ctx.retiring if r.container_ids()}
    others = [name for name in services if name not in draining]
    orphans = ctx.environment.compose.remove_orphans and not others_done
    if not services:
        argv = ctx.compose.up(remove_orphans=orphans)
    elif others:
        argv = ctx.compose.up(others, remove_orphans=orphans, no_deps=True)
    else:
        return
    run(ctx, argv, stage)
