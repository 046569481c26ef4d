"""The swap and the revert's start on a swarm: `docker stack deploy`, then watch it converge.

swap: the new commit's Compose files plus deployhook's override (the digests the build stage
pushed, content-named configs and secrets), deployed with --with-registry-auth, then watched
(jobs/swarm/watch.py) until every service converged; a rollback, a pause or a timeout fails.
start_previous: the revert's start. The checkout is back at the previous commit; its files are
deployed with the images every service ran before this deploy (their specs as the snapshot
read them, digests included), health-gated by the same watch; services the failed version
added are pruned. Configs and secrets come back under their content names.
"""

from __future__ import annotations

from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.swarm import commands
from jobs.swarm.files import names_key, override_path
from jobs.swarm.model import Stack, file_version, read_stack
from jobs.swarm.render import write_override
from jobs.swarm.tasks import ServiceState, service_images, update_marks
from jobs.swarm.watch import wait_converged


def stack_name(ctx: DeployContext) -> str:
    return ctx.environment.compose.project


def swap(ctx: DeployContext, stage: str = "swap") -> None:
    stack = read_stack(ctx.runner, ctx.compose)
    deploy_stack(ctx, stack, dict(ctx.deploy.image_digests), stage)


def start_previous(ctx: DeployContext) -> None:
    """Deploy the previous commit's stack with the images each service ran before."""
    stack = read_stack(ctx.runner, ctx.compose)
    images = {name: ref for name, ref in ctx.previous_images.items() if name in stack.services}
    added = set(service_images(ctx.docker, stack_name(ctx))) - set(ctx.previous_images)
    if added:
        ctx.log.info(f"removing services the failed version added: {', '.join(sorted(added))}")
    deploy_stack(ctx, stack, images, "revert", prune=bool(added))


def deploy_stack(
    ctx: DeployContext, stack: Stack, images: dict[str, str], stage: str, prune: bool = False
) -> list[ServiceState]:
    name = stack_name(ctx)
    files = [ctx.environment.path / item for item in ctx.environment.compose.files]
    override = write_override(
        override_path(ctx, stage),
        name,
        stack,
        file_version(files[0]),
        images,
        names_key(ctx.settings.state_dir),
    )
    before = update_marks(ctx.docker, name)
    argv = commands.stack_deploy(name, [*map(str, files), str(override)], prune=prune)
    try:
        ctx.runner.run(argv, timeout=ctx.environment.timeouts.swap, cwd=ctx.environment.path)
    except CommandFailed as error:
        raise StageFailed(stage, str(error), command=error) from None
    return wait_converged(ctx, name, before, stage)
