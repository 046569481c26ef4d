"""Swap one service without downtime: no request reaches a new container before it is healthy,
none is dropped by an old one that leaves.

For a service whose image changed, one batch (`zero_downtime_batch`, default 1) at a time:

1. `compose up --no-start --scale S=all+batch` creates new containers beside the running ones;
   each leaves the service's DNS name before it starts (jobs/runbook/stages/service_name.py), so no
   proxy that resolves `S` can reach it;
2. each must turn Docker-healthy; it fails at once when Docker calls it unhealthy, or it exits
   or restarts, else after `health.timeout`. A failed one served nothing and is removed; the
   old ones never left the name;
3. the new ones join the name; SETTLE_SECONDS later, if none of them has since crashed,
   restarted or turned unhealthy (else they are removed and the old ones never left), as
   many old ones leave it (never fewer
   than N healthy containers in the name), keep serving what is already on them for the drain
   period (the service's stop_grace_period, at most 30 s, or `zero_downtime_drain`), then get
   SIGTERM (`docker stop -t GRACE`) and are removed. The next batch starts while they drain.

`swap_service` is what the deploy calls, `swap_service_back` what the revert calls: one shape,
which another engine (Swarm's own start-first update) can fill in its own way.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from jobs.commands.docker import remove_container, start_container, stop_container
from jobs.compose.images import PROJECT_LABEL, SERVICE_LABEL, image_id
from jobs.compose.model import ServiceModel
from jobs.compose.zero_downtime import drain_seconds, grace_seconds
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.runbook.stages.service_name import in_name, join_name, leave_name

POLL_SECONDS = 0.2
# Between the new containers joining the name and the old ones leaving it: a proxy that looks
# the name up "at most a second old" knows the new ones before an old one's 0.1 s reconnect, so
# a connection it tries then has another address to go to. nginx's `valid=1s` is checked
# against a clock that ticks in whole seconds, so its answer can be up to 2 s old (measured:
# with 1.5 s here, nginx had not served the new container once before the old one's reconnect,
# and answered 504 to the requests of that instant); 3 s leaves a second for a loaded machine.
SETTLE_SECONDS = 3.0


def swap_service(ctx: DeployContext, service: ServiceModel) -> bool:
    """The deploy's swap of one service; False when nothing serves it (a plain `up` starts it)."""
    return roll(ctx, service, "swap")


def swap_service_back(ctx: DeployContext, service: ServiceModel, stage: str = "revert") -> bool:
    """The revert's: the previous image, with the same discipline."""
    return roll(ctx, service, stage)


def containers_of(ctx: DeployContext, service: str) -> list[Any]:
    labels = [f"{PROJECT_LABEL}={ctx.environment.compose.project}", f"{SERVICE_LABEL}={service}"]
    return list(ctx.docker.containers.list(all=True, filters={"label": labels}))


def image_name(ctx: DeployContext, service: ServiceModel) -> str:
    return service.image or f"{ctx.environment.compose.project}-{service.name}"


def roll(ctx: DeployContext, service: ServiceModel, stage: str) -> bool:
    everything = containers_of(ctx, service.name)
    serving = [c for c in everything if c.status == "running" and in_name(c, service.name)]
    if not serving:
        ctx.log.info(f"{service.name}: no container serves it: started the usual way")
        return False
    target = image_id(ctx, image_name(ctx, service))
    stale = [c for c in serving if c.attrs["Image"] != target]
    if target is None or not stale:
        return True  # nothing to swap; the plain `up` leaves it alone
    # Stopped, never started, or running outside the name (left by a deploy that died
    # midway): none serves anybody. The plain `up` after the swap starts missing replicas.
    leftovers = [c for c in everything if c not in serving]
    if leftovers:
        ctx.log.info(f"{service.name}: removing {_ids(leftovers)}, outside the service's name")
        _remove(ctx, leftovers, 0, stage, service.name)
    retiring = Retiring(ctx, service, stage)
    try:
        while stale:
            size = ctx.environment.zero_downtime_batch
            batch, stale = stale[:size], stale[size:]
            new = _start_outside_name(ctx, service, target, len(batch), stage)
            ctx.log.info(f"{service.name}: {_ids(new)} healthy: into the name; {_ids(batch)} out")
            for container, aliases in new.items():
                join_name(ctx, container, aliases, stage)
            time.sleep(SETTLE_SECONDS)
            _still_healthy(ctx, service, list(new), stage)
            for container in batch:
                leave_name(ctx, container, stage)
            retiring.start(batch)
    except BaseException:
        retiring.wait(quiet=True)  # the old ones out of the name still drain and go
        raise
    retiring.wait()
    return True


def _start_outside_name(
    ctx: DeployContext, service: ServiceModel, target: str, count: int, stage: str
) -> dict[Any, dict[str, tuple[str, ...]]]:
    """`count` new containers, started outside the name and healthy -> the aliases they lack."""
    before = {c.id for c in containers_of(ctx, service.name)}
    new: dict[Any, dict[str, tuple[str, ...]]] = {}
    try:
        try:
            argv = ctx.compose.create_beside(service.name, len(before) + count)
            _run(ctx, argv, stage, service.name)
        finally:  # whatever Compose managed to create is new, even when it then failed
            created = [c for c in containers_of(ctx, service.name) if c.id not in before]
        _check_new(created, target, count)
        for container in created:
            new[container] = leave_name(ctx, container, stage)
            _run(ctx, start_container(container.id), stage, service.name)
        _wait_healthy(ctx, list(new))
    except StageFailed as failure:
        removed = list(new) or created
        _remove(ctx, removed, 0, stage, service.name)
        raise StageFailed(
            stage,
            f"{service.name}: {failure}; removed the new "
            f"container(s) {_ids(removed)} before any request reached them, the old one(s) "
            "kept serving",
        ) from None
    return new


class Retiring:
    """Old containers out of the name: drain, SIGTERM, remove, in the background of the swap."""

    def __init__(self, ctx: DeployContext, service: ServiceModel, stage: str) -> None:
        self.ctx, self.service, self.stage = ctx, service, stage
        self.drain = drain_seconds(service, ctx.environment.zero_downtime_drain)
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, containers: list[Any]) -> None:
        thread = threading.Thread(target=self._retire, args=(containers,), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _retire(self, containers: list[Any]) -> None:
        try:
            self.ctx.log.info(
                f"{self.service.name}: {_ids(containers)} out of the name, draining "
                f"{self.drain:g}s before SIGTERM"
            )
            time.sleep(self.drain)
            grace = grace_seconds(self.service)
            _remove(self.ctx, containers, grace, self.stage, self.service.name)
        except BaseException as error:  # noqa: BLE001 - raised again by wait(), in the swap
            self.errors.append(error)

    def wait(self, quiet: bool = False) -> None:
        """Until every drain has ended; raises the first failure unless `quiet` (then logs)."""
        for thread in self.threads:
            thread.join()
        if self.errors and not quiet:
            raise self.errors[0]
        for error in self.errors:
            self.ctx.log.info(f"{self.service.name}: retiring an old container failed: {error}")


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
            healthy, seen = _look(container)
            if healthy:
                waiting.remove(container)
            elif seen.failed:
                raise StageFailed("swap", f"new container {container.id[:12]} failed ({seen})")
            elif time.monotonic() >= deadline:
                raise StageFailed(
                    "swap", f"new container {container.id[:12]} not healthy within "
                    f"{timeout:.0f}s ({seen})",
                )  # fmt: skip
        if waiting:
            time.sleep(POLL_SECONDS)


def _still_healthy(ctx: DeployContext, service: ServiceModel, new: list[Any], stage: str) -> None:
    """Before any old one leaves: the new ones have not crashed, restarted or turned unhealthy
    since they joined. One healthy probe is all Docker asks; a release that passes one and then
    crashes would otherwise take the name alone. The old ones never left, so removing the new
    ones is the whole undo."""
    for container in new:
        healthy, seen = _look(container)
        if not healthy:
            _remove(ctx, new, 0, stage, service.name)
            raise StageFailed(
                stage,
                f"{service.name}: new container {container.id[:12]} failed after it joined the "
                f"name ({seen}); removed the new container(s) {_ids(new)}, the old one(s) "
                "never left the name",
            )


@dataclass(frozen=True)
class _Seen:
    status: str
    health: str
    restarts: int

    @property
    def failed(self) -> bool:
        return self.health == "unhealthy" or self.restarts > 0 or self.status != "running"

    def __str__(self) -> str:
        return f"{self.status}, health {self.health}, {self.restarts} restart(s)"


def _look(container: Any) -> tuple[bool, _Seen]:
    """(healthy and never restarted, what Docker says of it now)."""
    container.reload()
    state = container.attrs.get("State", {})
    seen = _Seen(
        str(state.get("Status")),
        (state.get("Health") or {}).get("Status") or "none",
        int(container.attrs.get("RestartCount") or 0),
    )
    return seen.health == "healthy" and not seen.failed, seen


def _remove(
    ctx: DeployContext, containers: list[Any], grace: int, stage: str, service: str
) -> None:
    for container in containers:
        _run(ctx, stop_container(container.id, grace), stage, service)
        _run(ctx, remove_container(container.id), stage, service)


def _run(ctx: DeployContext, argv: list[str], stage: str, service: str) -> None:
    try:
        ctx.runner.run(argv, timeout=ctx.environment.timeouts.swap)
    except CommandFailed as error:
        raise StageFailed(stage, f"{service}: {error}", command=error) from None


def _ids(containers: Any) -> str:
    return ", ".join(container.id[:12] for container in containers) or "none"
