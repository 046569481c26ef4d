"""Swap one service without downtime: no request reaches a new container before it is healthy,
none is dropped by an old one that leaves.

For a service whose image changed, one batch (`zero_downtime_batch`, default 1) at a time:

1. `compose up --no-start --scale S=all+batch` creates new containers beside the running ones;
   each leaves the service's DNS name before it starts (jobs/runbook/stages/service_name.py), so no
   proxy that resolves `S` can reach it;
2. each must turn Docker-healthy; it fails at once when Docker calls it unhealthy, or it exits
   or restarts, else after `health.timeout`. A failed one served nothing and is removed; the
   old ones never left the name;
3. the new ones join the name; as many old ones are retired (jobs/runbook/stages/retiring.py):
   the settle later (the longest a proxy keeps an old DNS answer, jobs/compose/proxy_cache.py),
   if the new ones have not since crashed, restarted or turned unhealthy (else those are
   removed and the old ones never leave), they leave the name (never fewer than N healthy
   containers in it), drain for the drain period (the service's stop_grace_period, at most
   30 s, or `zero_downtime_drain`), then get SIGTERM (`docker stop -t GRACE`) and are removed.
   The next batch starts meanwhile; the swap stage ends once every old one has left the name.

`swap_service` is what the deploy calls, `swap_service_back` what the revert calls: one shape,
which another engine (Swarm's own start-first update) can fill in its own way. A revert while
the deploy's old containers drain (a later batch failed, in the swap itself) takes them back
instead of starting new ones.
"""

from __future__ import annotations

import time
from typing import Any

from jobs.commands.docker import start_container
from jobs.compose.images import PROJECT_LABEL, SERVICE_LABEL, image_id
from jobs.compose.model import ServiceModel
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.container_health import look, removed_unserved
from jobs.runbook.stages.others_up import OthersUp
from jobs.runbook.stages.retiring import Aliases, Retiring, remove
from jobs.runbook.stages.service_name import in_name, join_name, leave_name
from jobs.runbook.stages.swap_commands import run, short_ids

POLL_SECONDS = 0.2


def swap_service(
    ctx: DeployContext, service: ServiceModel, settle: float, others: OthersUp
) -> bool:
    """The deploy's swap of one service; False when nothing serves it (a plain `up` starts it).
    `settle`: seconds between the new containers' join and the old ones' leave; `others`: the
    other services' `up`, started once new containers have started, ended before a join."""
    return roll(ctx, service, stage="swap", settle=settle, others=others)


def swap_service_back(
    ctx: DeployContext, service: ServiceModel, settle: float, others: OthersUp, stage: str
) -> bool:
    """The revert's: the previous image, with the same discipline."""
    return roll(ctx, service, stage=stage, settle=settle, others=others)


def containers_of(ctx: DeployContext, service: str) -> list[Any]:
    labels = [f"{PROJECT_LABEL}={ctx.environment.compose.project}", f"{SERVICE_LABEL}={service}"]
    # ignore_removed: a retired container can go between Docker's list and its inspect.
    found = ctx.docker.containers.list(all=True, filters={"label": labels}, ignore_removed=True)
    return list(found)


def roll(
    ctx: DeployContext, service: ServiceModel, *, stage: str, settle: float, others: OthersUp
) -> bool:
    everything = containers_of(ctx, service.name)
    serving = [c for c in everything if c.status == "running" and in_name(c, service.name)]
    target = image_id(ctx, service.image_name(ctx.environment.compose.project))
    # A revert while the deploy's old containers drain (a failure after they left the name,
    # or in a later batch): they are the version it puts back.
    back = [
        pair for retiring in ctx.retiring if retiring.service.name == service.name
        for pair in retiring.reclaim(target)
    ] if target is not None else []  # fmt: skip
    if not serving and not back:
        ctx.log.info(f"{service.name}: no container serves it: started the usual way")
        return False
    stale = [c for c in serving if c.attrs["Image"] != target]
    if target is None or not (stale or back):
        return True  # nothing to swap; the plain `up` leaves it alone
    # Stopped, never started, crashed, or running outside the name (left by a deploy that
    # died midway): none serves anybody. The plain `up` after the swap starts missing replicas.
    keep = {c.id for c in serving} | {c.id for c, _ in back} | ctx.retiring_ids()
    leftovers = [c for c in containers_of(ctx, service.name) if c.id not in keep]
    if leftovers:
        ctx.log.info(f"{service.name}: removing {short_ids(leftovers)}, outside the service's name")
        remove(ctx, leftovers, 0, stage, service.name)
    if not serving:  # the failed version crashed: the ones taken back serve alone
        joined = _take_back(ctx, service, back, stage)
        others.wait()  # no container starts while a running one reconnects (others_up.py)
        for container, aliases in joined.items():
            join_name(ctx, container, aliases, stage)
        return bool(joined)  # none healthy: the plain `up` starts the service
    retiring = Retiring(ctx, service, stage, settle)
    try:
        while stale:
            size = ctx.environment.zero_downtime_batch
            batch, stale = stale[:size], stale[size:]
            reuse, back = back[: len(batch)], back[len(batch) :]
            new = _take_back(ctx, service, reuse, stage)
            if len(new) < len(batch):
                count = len(batch) - len(new)
                new |= _start_outside_name(ctx, service, target, count, stage, others)
            into, out = short_ids(new), short_ids(batch)
            ctx.log.info(f"{service.name}: {into} healthy: into the name; {out} out")
            others.wait()  # no container starts while a running one reconnects (others_up.py)
            for container, aliases in new.items():
                join_name(ctx, container, aliases, stage)
            retiring.start(batch, time.monotonic(), replaced_by=list(new))
        if back:  # more taken back than needed: they go again
            retiring.start([container for container, _ in back], 0.0, in_name=False)
    except BaseException:
        retiring.wait_left(quiet=True)  # those that swapped leave the name, for the revert
        raise
    return True  # the swap stage waits until the old ones have left (Retiring.wait_left)


def _take_back(
    ctx: DeployContext, service: ServiceModel, reuse: list[tuple[Any, Aliases]], stage: str
) -> dict[Any, Aliases]:
    """Draining containers of the target image, back into service once Docker calls them
    healthy; none when one is not (they are removed, and new ones started instead)."""
    if not reuse:
        return {}
    containers = [container for container, _ in reuse]
    try:
        _wait_healthy(ctx, containers)
    except StageFailed as failure:
        ctx.log.info(f"{service.name}: not taking back {short_ids(containers)}: {failure}")
        remove(ctx, containers, 0, stage, service.name)
        return {}
    ctx.log.info(f"{service.name}: taking back {short_ids(containers)}, still draining and healthy")
    return dict(reuse)


def _start_outside_name(
    ctx: DeployContext,
    service: ServiceModel,
    target: str,
    count: int,
    stage: str,
    others: OthersUp,
) -> dict[Any, Aliases]:
    """`count` new containers, started outside the name and healthy -> the aliases they lack."""
    new: dict[Any, Aliases] = {}
    try:
        with ctx.containers_lock:  # no retirement removes one while Compose counts them
            before = {c.id for c in containers_of(ctx, service.name)}
            try:
                argv = ctx.compose.create_beside(service.name, len(before) + count)
                run(ctx, argv, stage, service.name)
            finally:  # whatever Compose managed to create is new, even when it then failed
                created = [c for c in containers_of(ctx, service.name) if c.id not in before]
        _check_new(created, target, count)
        for container in created:
            new[container] = leave_name(ctx, container, stage)
        # The others boot beside these from their start on (others_up.py): no running
        # container reconnects until the next join, which waits for them.
        others.start()
        with ctx.containers_lock:  # each takes an address, which no reconnect may see happen
            for container in created:
                run(ctx, start_container(container.id), stage, service.name)
        _wait_healthy(ctx, list(new))
    except StageFailed as failure:
        removed = list(new) or created
        ids = short_ids(removed)
        ctx.log.info(f"{service.name}: {failure}; removing the new container(s) {ids}")
        remove(ctx, removed, 0, stage, service.name)
        raise StageFailed(stage, removed_unserved(service.name, str(failure))) from None
    return new


def _check_new(new: list[Any], target: str, expected: int) -> None:
    wrong = [c.id[:12] for c in new if c.attrs["Image"] != target]
    if len(new) != expected or wrong:
        raise StageFailed(
            "swap",
            f"expected {expected} new container(s) of image {target[7:19]}, got {len(new)}"
            + (f" ({', '.join(wrong)} of another image)" if wrong else ""),
        )


def _wait_healthy(ctx: DeployContext, containers: list[Any]) -> None:
    """Until Docker calls each healthy; fail at the first unhealthy, exit, restart or timeout."""
    timeout = ctx.environment.health.timeout
    deadline = time.monotonic() + timeout
    waiting = list(containers)
    while waiting:
        for container in list(waiting):
            seen = look(container)
            if seen.healthy:
                waiting.remove(container)
            elif seen.failed or time.monotonic() >= deadline:
                ctx.log.info(f"new container {container.id[:12]}: {seen}")
                if seen.failed:
                    raise StageFailed("swap", f"new container failed ({seen})")
                raise StageFailed(
                    "swap", f"new container not healthy within {timeout:.0f}s ({seen})"
                )
        if waiting:
            time.sleep(POLL_SECONDS)
