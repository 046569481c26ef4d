"""Swap one service without downtime: new containers beside the old, old ones stopped last.

For a service whose image changed: `compose up --no-deps --no-recreate --scale S=old+new S`
starts new containers of the new image beside the running ones (the proxy resolves the service
name to all of them), each must turn Docker-healthy, and only then are the old ones stopped
(`docker stop -t GRACE`, so requests in flight finish) and removed. A new container that never
gets healthy is removed instead; the old ones never stopped and keep serving.
"""

from __future__ import annotations

import time
from typing import Any

from jobs.commands.docker import remove_container, stop_container
from jobs.compose.images import PROJECT_LABEL, SERVICE_LABEL, image_id
from jobs.compose.model import ServiceModel
from jobs.compose.zero_downtime import grace_seconds
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed

POLL_SECONDS = 0.2


def containers_of(ctx: DeployContext, service: str) -> list[Any]:
    labels = [f"{PROJECT_LABEL}={ctx.environment.compose.project}", f"{SERVICE_LABEL}={service}"]
    return list(ctx.docker.containers.list(all=True, filters={"label": labels}))


def image_name(ctx: DeployContext, service: ServiceModel) -> str:
    return service.image or f"{ctx.environment.compose.project}-{service.name}"


def roll(ctx: DeployContext, service: ServiceModel, stage: str) -> bool:
    """Swap `service` rolling; False when it cannot (nothing running) and needs a plain `up`."""
    old = containers_of(ctx, service.name)
    if not old or any(container.status != "running" for container in old):
        ctx.log.info(f"{service.name}: not every container runs: started the usual way")
        return False
    target = image_id(ctx, image_name(ctx, service))
    if target is None or all(container.attrs["Image"] == target for container in old):
        return True  # nothing to swap; the plain `up` leaves it alone
    old_ids = {container.id for container in old}
    count = len(old) + (service.replicas or 1)
    ctx.log.info(f"{service.name}: starting {count - len(old)} new container(s) beside {_ids(old)}")
    new: list[Any] = []
    try:
        try:
            _run(ctx, ctx.compose.scale_beside(service.name, count), stage, service.name)
        finally:  # whatever Compose managed to create is new, even when it then failed
            new = [c for c in containers_of(ctx, service.name) if c.id not in old_ids]
        _check_new(new, target, count - len(old))
        for container in new:
            _wait_healthy(ctx, container)
    except StageFailed as failure:
        _remove(ctx, new, service, stage)
        raise StageFailed(
            stage,
            f"{service.name}: {failure}; removed the new container(s) {_ids(new)}, the old "
            f"one(s) {_ids(old)} kept serving",
        ) from None
    ctx.log.info(f"{service.name}: {_ids(new)} healthy; stopping the old {_ids(old)}")
    _remove(ctx, old, service, stage)
    return True


def _check_new(new: list[Any], target: str, expected: int) -> None:
    wrong = [c.id[:12] for c in new if c.attrs["Image"] != target]
    if len(new) != expected or wrong:
        raise StageFailed(
            "swap",
            f"expected {expected} new container(s) of image {target[7:19]}, got {len(new)}"
            + (f" ({', '.join(wrong)} of another image)" if wrong else ""),
        )


def _wait_healthy(ctx: DeployContext, container: Any) -> None:
    """Until Docker calls `container` healthy; fail when it exits or the health timeout ends."""
    timeout = ctx.environment.health.timeout
    deadline = time.monotonic() + timeout
    seen = "no state yet"
    while True:
        container.reload()
        state = container.attrs.get("State", {})
        health = (state.get("Health") or {}).get("Status")
        seen = f"{state.get('Status')}, health {health or 'none'}"
        if health == "healthy":
            return
        if state.get("Status") in ("exited", "dead"):
            raise StageFailed("swap", f"new container {container.id[:12]} exited ({seen})")
        if time.monotonic() >= deadline:
            raise StageFailed(
                "swap",
                f"new container {container.id[:12]} not healthy within {timeout:.0f}s ({seen})",
            )
        time.sleep(POLL_SECONDS)


def _remove(ctx: DeployContext, containers: list[Any], service: ServiceModel, stage: str) -> None:
    grace = grace_seconds(service)
    for container in containers:
        _run(ctx, stop_container(container.id, grace), stage, service.name)
        _run(ctx, remove_container(container.id), stage, service.name)


def _run(ctx: DeployContext, argv: list[str], stage: str, service: str) -> None:
    try:
        ctx.runner.run(argv, timeout=ctx.environment.timeouts.swap)
    except CommandFailed as error:
        raise StageFailed(stage, f"{service}: {error}", command=error) from None


def _ids(containers: list[Any]) -> str:
    return ", ".join(container.id[:12] for container in containers) or "none"
