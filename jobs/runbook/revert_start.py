"""The revert's first start: the services not on their previous image, without waiting on others.

`compose up` checks each `depends_on` condition other than `service_started` on a 500 ms
ticker whose first tick comes before its first look (docker/compose, convergence.go
`waitDependency`): every `up` of a stack with a health-gated database waits half a second
even when that database is healthy and untouched. When every other container of the project
is running, and healthy if it has a health check, that wait cannot fail; so the revert first
recreates only the services whose running image is not their previous one, with `--no-deps`,
and the previous version serves that much sooner.

Nothing else changes: the plain `compose up` of `swap(ctx, "revert")` still follows and
converges the rest (another service's configuration, rolling services, orphans), then the
health check and the running-images check prove the result, as before. When the other
containers are not all ready (stopped writers, a one-shot job that has exited, a database
still starting) this step starts nothing and that `compose up` does it all in Compose's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jobs.compose.images import SERVICE_LABEL, running_containers
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed

ONE_OFF_LABEL = "com.docker.compose.oneoff"


def start_changed_first(ctx: DeployContext) -> list[str]:
    """Recreate the services not on their previous image with `--no-deps`, when that is safe.

    Returns the services started, empty when skipped. A failed `compose up` is only logged:
    the full start that follows is the one whose failure makes the revert fail.
    """
    containers = [c for c in running_containers(ctx) if c.labels.get(ONE_OFF_LABEL) != "True"]
    changed = changed_services(ctx.previous_images, _images(containers))
    changed = [name for name in changed if name not in ctx.environment.zero_downtime]
    if not changed:
        return []
    # Left out of the check: the failed version's running containers this step replaces, and
    # services the failed version added (stopped on purpose). A stopped or paused container
    # of any other service, even a changed one, leaves the whole start to Compose's order.
    retired = set(ctx.deploy.retired_services)
    replaced = {_service(c) for c in containers if c.status == "running"} & set(changed)
    waiting = not_ready(c for c in containers if _service(c) not in retired | replaced)
    if waiting:
        ctx.log.info(f"starting everything with Compose's own ordering: {', '.join(waiting)}")
        return []
    names = ", ".join(changed)
    try:
        ctx.runner.run(ctx.compose.up(changed, no_deps=True), timeout=ctx.environment.timeouts.swap)
    except CommandFailed as error:
        ctx.log.info(f"starting {names} first failed ({error}); the full start follows")
        return []
    return changed


def changed_services(previous: dict[str, str], running: dict[str, str]) -> list[str]:
    """Services that ran an image before the deploy and do not run that image now."""
    return sorted(service for service, image in previous.items() if running.get(service) != image)


def not_ready(containers: Iterable[Any]) -> list[str]:
    """Why Compose would still have to wait on some of `containers` ("postgres is starting")."""
    waiting = []
    for container in containers:
        state = container.attrs.get("State", {})
        health = (state.get("Health") or {}).get("Status")
        if container.status != "running":
            waiting.append(f"{_service(container)} is {container.status}")
        elif health not in (None, "healthy"):
            waiting.append(f"{_service(container)} is {health}")
    return sorted(waiting)


def _images(containers: list[Any]) -> dict[str, str]:
    return {_service(c): c.attrs["Image"] for c in containers if c.status == "running"}


def _service(container: Any) -> str:
    return str(container.labels.get(SERVICE_LABEL, container.name))
