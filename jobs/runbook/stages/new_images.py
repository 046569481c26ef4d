"""The build stage's last check (and the pull's): a zero-downtime service whose Compose files
set no healthcheck test swaps on its image's HEALTHCHECK, so its new image must have one.

Without one, Docker never calls a new container healthy and the swap would wait out its
timeout: the stage fails instead, before the migration or the swap changes anything
(jobs/compose/image_healthcheck.py reads the images through the Docker SDK). A revert's swap
asks the same of the previous images (`without_healthcheck`): one without is recreated.
"""

from __future__ import annotations

from jobs.compose import image_healthcheck
from jobs.compose.model import ComposeModel, read_model
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed


def check_new_images(ctx: DeployContext, names: dict[str, str], stage: str = "build") -> None:
    """Each zero-downtime service relying on its image has a healthcheck there; `names`:
    service -> image name, for the services this stage built or pulled."""
    if not ctx.environment.zero_downtime:
        return
    model = ctx.compose_model or read_model(ctx.runner, ctx.compose)
    problems = without_healthcheck(ctx, model, names, stage)
    if problems:
        raise StageFailed(stage, "; ".join(problems.values()))


def without_healthcheck(
    ctx: DeployContext, model: ComposeModel, names: dict[str, str], stage: str | None = None
) -> dict[str, str]:
    """service -> why, for the zero-downtime services relying on an image without a
    healthcheck. `stage`: the image of a service neither built nor pulled (an `image:` the
    engine lacks) is pulled first, as `compose up` would pull it; without, it counts as none."""
    found: dict[str, str] = {}
    project = ctx.environment.compose.project
    for service in image_healthcheck.relying_on_image(model, ctx.environment.zero_downtime):
        name = names.get(service.name) or service.image_name(project)
        look = image_healthcheck.read(ctx.docker, name)
        if not look.present and stage is not None:
            _pull(ctx, service.name, stage)
            look = image_healthcheck.read(ctx.docker, name)
        if look.healthcheck is None:
            found[service.name] = image_healthcheck.missing(service.name, name)
        else:
            ctx.log.info(f"{service.name}: image {name} has a healthcheck ({look.healthcheck})")
    return found


def _pull(ctx: DeployContext, service: str, stage: str) -> None:
    try:
        ctx.runner.run(ctx.compose.pull([service]), timeout=ctx.environment.timeouts.build)
    except CommandFailed as error:
        raise StageFailed(stage, str(error), command=error) from None
