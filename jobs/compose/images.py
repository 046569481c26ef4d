"""Images of a deploy: what Compose runs and builds, and moving image names between IDs.

Not a stage: the build, snapshot, health and commit stages and the revert share it. Reads go
through the Docker SDK; every change (a tag, an untag) is a `docker image` argv run by the
deploy's runner (jobs/commands/docker.py), so it is fenced and listed in the deploy's history.
Nothing here starts, stops or removes a container.
"""

from __future__ import annotations

from typing import Any

import docker.errors

from jobs.commands import docker as docker_argv
from jobs.compose.model import read_model
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.failures.finder import telling_line

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def running_containers(ctx: DeployContext) -> list[Any]:
    """The project's containers, but not the old ones a rolling swap is retiring: out of
    their service's name, they drain and go (jobs/runbook/stages/retiring.py)."""
    label = f"{PROJECT_LABEL}={ctx.environment.compose.project}"
    retiring = ctx.retiring_ids()
    # ignore_removed: a retired container can go between Docker's list and its inspect.
    listed = ctx.docker.containers.list(all=True, filters={"label": label}, ignore_removed=True)
    return [container for container in listed if container.id not in retiring]


def running_images(ctx: DeployContext) -> dict[str, str]:
    """service -> image ID of its running container(s)."""
    images: dict[str, str] = {}
    for container in running_containers(ctx):
        if container.status == "running":
            images[container.labels.get(SERVICE_LABEL, "?")] = container.attrs["Image"]
    return images


def built_image_names(ctx: DeployContext) -> dict[str, str]:
    """service -> image name, for the services that Compose builds from the checkout.

    Remembers the model it read in `ctx.compose_model`.
    """
    model = read_model(ctx.runner, ctx.compose)
    ctx.compose_model = model  # the checkout's model now: the swap that follows reuses it
    project = ctx.environment.compose.project
    return {
        service.name: service.image_name(project)
        for service in model.services.values()
        if service.builds
    }


def short_image(image: str) -> str:
    """An image ID's first 12 digits; a reference (a swarm service's `repo@sha256:...`) whole."""
    return image[7:19] if image.startswith("sha256:") else image


def split_name(name: str) -> tuple[str, str]:
    """`repo[:tag]` -> (repo, tag), minding registry ports such as host:5000/repo."""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, "latest"


def image_id(ctx: DeployContext, name: str) -> str | None:
    try:
        return str(ctx.docker.images.get(name).id)
    except docker.errors.ImageNotFound:
        return None


def point_name_at(ctx: DeployContext, name: str, target_id: str, stage: str = "revert") -> None:
    """Make `name` refer to image `target_id` (how a revert gets old images without a build)."""
    try:
        ctx.runner.run(docker_argv.tag_image(target_id, name), timeout=120)
    except CommandFailed as error:
        raise StageFailed(
            stage, f"could not tag {target_id[:19]} as {name}: {error}", command=error
        ) from None
    now = image_id(ctx, name)
    if now != target_id:
        raise StageFailed(stage, f"expected {name} to be {target_id[:19]}, got {now}")


def remove_old_commit_tags(
    ctx: DeployContext, prefix: str, keep: int, protect: set[str]
) -> list[str]:
    """Untag all but the newest `keep` commit-tagged images of each built service.

    Only tags deployhook made (`<image>:<prefix>...`) are touched; an image still in use, or
    one in `protect` (the last good images), stays. Never a prune, never a volume.
    """
    removed = []
    for name in ctx.built_images.values():
        repository, _ = split_name(name)
        tagged = []
        for image in ctx.docker.images.list(name=repository):
            for tag in image.tags:
                if tag.startswith(f"{repository}:{prefix}"):
                    tagged.append((image.attrs.get("Created", ""), tag, image.id))
        for _created, tag, identifier in sorted(tagged, reverse=True)[keep:]:
            if identifier in protect:
                continue
            try:
                ctx.runner.run(docker_argv.untag_image(tag), timeout=120, quiet=True)
                removed.append(tag)
            except CommandFailed as error:
                ctx.log.info(f"kept {tag}: {telling_line(error.output_tail) or error}")
    return removed
