"""`images: pull`: pull the images CI built instead of building, and pin them by digest.

The pulled digests (`repo@sha256:...`) become the deploy's `image_digests`. A rollback or a
redeploy of a deploy that recorded digests starts exactly those again (pull by digest when the
engine lost them, then retag the compose name at the digest), and a revert does the same with
the previous deploy's digests, so a tag moved in the registry since can never change what runs.
Every pull and tag runs through the runner as argv. As after a build, the stage ends by checking
the pulled images of zero-downtime services relying on their HEALTHCHECK (new_images.py).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from jobs.commands import docker as docker_argv
from jobs.compose.images import image_id, split_name
from jobs.compose.model import read_model
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.runbook.stages.new_images import check_new_images
from jobs.state.lastgood import read_last_good
from jobs.state.records import RecordError


def pulled_image_names(ctx: DeployContext) -> dict[str, str]:
    """service -> image name, for every service with an `image:` (what `compose pull` pulls)."""
    model = read_model(ctx.runner, ctx.compose)
    ctx.compose_model = model  # the checkout's model now, as the build's (the swap reuses it)
    return {s.name: s.image for s in model.services.values() if s.image}


def pull(ctx: DeployContext) -> dict[str, str]:
    """The build stage of `images: pull`; returns service -> image ID like a build does."""
    names = pulled_image_names(ctx)
    ctx.built_images = names
    ctx.deploy.image_names = names
    ctx.previous_digests = digests_of(ctx, _last_good_id(ctx))
    ctx.save()
    named = _pinned_deploy_id(ctx)
    pinned = digests_of(ctx, named)
    if named and not pinned:
        ctx.log.info(f"{named} recorded no digests: pulling the tags as the registry has them now")
    if pinned:
        ctx.log.info(f"starting the recorded digests again: {_show(pinned)}")
        for service, digest in sorted(pinned.items()):
            if service in names:
                pin(ctx, names[service], digest, "build")
    else:
        try:
            ctx.runner.run(ctx.compose.pull(sorted(names)), timeout=ctx.environment.timeouts.build)
        except CommandFailed as error:
            raise StageFailed("build", str(error), command=error) from None
    identifiers: dict[str, str] = {}
    digests: dict[str, str] = {}
    for service, name in sorted(names.items()):
        identifier = image_id(ctx, name)
        if identifier is None:
            raise StageFailed("build", f"expected image {name} for {service} after pull, got none")
        identifiers[service] = identifier
        digests[service] = pinned.get(service) or registry_digest(ctx, name)
    ctx.deploy.image_digests = digests
    ctx.deploy.images = identifiers
    ctx.deploy.build = "pulled"
    ctx.log.info(f"pulled {_show(digests)}")
    check_new_images(ctx, names)  # before a migration or a swap changes anything
    return identifiers


def registry_digest(ctx: DeployContext, name: str) -> str:
    """`repo@sha256:...` of the image `name` names, as the registry knows it."""
    argv = docker_argv.repo_digests(name)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "digests"
        ctx.runner.run(argv, timeout=120, stdout_path=out, quiet=True, read_only=True)
        found = json.loads(out.read_text() or "null") or []
    repository = split_name(name)[0]
    same = [d for d in found if isinstance(d, str) and d.split("@", 1)[0] == repository]
    if not same:
        raise StageFailed(
            "build",
            f"expected a registry digest for {name} after the pull, got {found or 'none'}: "
            "images: pull needs every image: to name a registry image",
        )
    return str(same[0])


def pin(ctx: DeployContext, name: str, digest: str, stage: str) -> None:
    """Make `name` the image `digest` names: pull it by digest if missing, then retag."""
    timeout = ctx.environment.timeouts.build
    try:
        if image_id(ctx, digest) is None:
            ctx.runner.run(docker_argv.pull_digest(digest), timeout=timeout)
        ctx.runner.run(docker_argv.tag_image(digest, name), timeout=120)
    except CommandFailed as error:
        raise StageFailed(stage, str(error), command=error) from None
    wanted, now = image_id(ctx, digest), image_id(ctx, name)
    if wanted is None or now != wanted:
        raise StageFailed(stage, f"expected {name} to be {digest}, got {now}")


def pin_previous(ctx: DeployContext) -> list[str]:
    """For a revert: point names at the previous deploy's digests; returns the services done."""
    done = []
    for service, digest in sorted(ctx.previous_digests.items()):
        name = ctx.built_images.get(service)
        if name:
            pin(ctx, name, digest, "revert")
            done.append(service)
    return done


def digests_of(ctx: DeployContext, deploy_id: str | None) -> dict[str, str]:
    if not deploy_id:
        return {}
    try:
        return dict(ctx.store.get(deploy_id).image_digests)
    except RecordError:
        return {}


def _pinned_deploy_id(ctx: DeployContext) -> str | None:
    """A rollback or redeploy starts the images of the deploy it names, not the tag's now."""
    return ctx.deploy.rollback_to or ctx.deploy.redeploy_of


def _last_good_id(ctx: DeployContext) -> str | None:
    record = read_last_good(ctx.store.redis, ctx.deploy.target)
    return str(record["deploy_id"]) if record and record.get("deploy_id") else None


def _show(digests: dict[str, str]) -> str:
    return ", ".join(f"{s}={d.rsplit('@', 1)[-1][7:19]}" for s, d in sorted(digests.items()))
