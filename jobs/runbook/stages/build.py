"""Build the new images while the old containers keep serving, and tag them by commit.

The commit tag (`<image>:deployhook-<sha12>`) is what a later rollback to this deploy uses
instead of a rebuild: when every built service already has an image with this commit's tag,
the names are pointed at those images and nothing is built. Either way the stage ends by
checking that each zero-downtime service relying on its image's HEALTHCHECK has one there
(jobs/runbook/stages/new_images.py).
"""

from __future__ import annotations

from jobs.compose.images import built_image_names, image_id, point_name_at, split_name
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.runbook.stages.new_images import check_new_images
from jobs.triggers.rebuild import changed_services

TAG_PREFIX = "deployhook-"


def commit_tag(sha: str) -> str:
    return f"{TAG_PREFIX}{sha[:12]}"


def build(ctx: DeployContext) -> dict[str, str]:
    names = built_image_names(ctx)
    # Known before the build runs: a build that fails halfway may already have moved a name.
    ctx.built_images = names
    ctx.deploy.image_names = names
    ctx.save()
    retained = retained_images(ctx, names)
    missing = sorted(service for service, found in retained.items() if found is None)
    if not missing:
        built = reuse(ctx, names, {s: i for s, i in retained.items() if i is not None})
    else:
        if ctx.deploy.trigger == "rollback":
            ctx.log.info(f"no retained image of {ctx.deploy.sha[:12]} for {', '.join(missing)}")
            ctx.log.info("building them again: a rollback without a retained image must build")
        built = build_and_tag(ctx, names)
    ctx.deploy.images = built
    check_new_images(ctx, names)  # before a migration or a swap changes anything
    return built


def retained_images(ctx: DeployContext, names: dict[str, str]) -> dict[str, str | None]:
    """service -> the ID of its image tagged with this deploy's commit, or None."""
    tag = commit_tag(ctx.deploy.sha)
    return {
        service: image_id(ctx, f"{split_name(name)[0]}:{tag}") for service, name in names.items()
    }


def reuse(ctx: DeployContext, names: dict[str, str], retained: dict[str, str]) -> dict[str, str]:
    """Point each compose image name at the image kept for this commit: no build at all."""
    for service, name in sorted(names.items()):
        point_name_at(ctx, name, retained[service], "build")
    ctx.deploy.build = "reused"
    ctx.log.info(
        f"reusing retained images of {ctx.deploy.sha[:12]} (no build): "
        + (", ".join(f"{s}={i[7:19]}" for s, i in sorted(retained.items())) or "none")
    )
    return dict(retained)


def build_and_tag(ctx: DeployContext, names: dict[str, str]) -> dict[str, str]:
    # With `paths:`, services whose build context did not change keep their live image.
    services = changed_services(ctx)
    try:
        if services != []:
            ctx.runner.run(ctx.compose.build(services), timeout=ctx.environment.timeouts.build)
    except CommandFailed as error:
        raise StageFailed("build", str(error), command=error) from None
    built: dict[str, str] = {}
    for service, name in sorted(names.items()):
        identifier = image_id(ctx, name)
        if identifier is None:
            raise StageFailed("build", f"expected image {name} for {service} after build, got none")
        repository, _ = split_name(name)
        point_name_at(ctx, f"{repository}:{commit_tag(ctx.deploy.sha)}", identifier, "build")
        built[service] = identifier
    ctx.deploy.build = "built"
    ctx.log.info("built " + (", ".join(f"{s}={i[7:19]}" for s, i in built.items()) or "nothing"))
    return built
