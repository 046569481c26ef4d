"""Build the new images while the old containers keep serving, and tag them by commit.

The commit tag (`<image>:deployhook-<sha12>`) is what a later rollback to this deploy uses
instead of a rebuild.
"""

from __future__ import annotations

from jobs.context import DeployContext
from jobs.errors import CommandFailed, StageFailed
from jobs.stages.images import built_image_names, image_id, split_name

TAG_PREFIX = "deployhook-"


def commit_tag(sha: str) -> str:
    return f"{TAG_PREFIX}{sha[:12]}"


def build(ctx: DeployContext) -> dict[str, str]:
    names = built_image_names(ctx)
    # Known before the build runs: a build that fails halfway may already have moved a name.
    ctx.built_images = names
    ctx.deploy.extra["image_names"] = names
    ctx.save()
    try:
        ctx.runner.run(ctx.compose.build(), timeout=ctx.environment.timeouts.build)
    except CommandFailed as error:
        raise StageFailed("build", f"{error}: {_last_lines(error.output_tail)}") from None
    built: dict[str, str] = {}
    for service, name in sorted(names.items()):
        identifier = image_id(ctx, name)
        if identifier is None:
            raise StageFailed("build", f"expected image {name} for {service} after build, got none")
        repository, _ = split_name(name)
        ctx.docker.images.get(identifier).tag(repository, commit_tag(ctx.deploy.sha))
        built[service] = identifier
    ctx.deploy.extra["images"] = built
    ctx.log.info("built " + (", ".join(f"{s}={i[7:19]}" for s, i in built.items()) or "nothing"))
    return built


def _last_lines(text: str, count: int = 8) -> str:
    return " | ".join(line.strip() for line in text.splitlines()[-count:] if line.strip())
