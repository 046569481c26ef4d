"""The build stage on a swarm: build once, on the worker's engine, push, and keep the digests.

`images: build`: Compose builds the stack's images on the engine the worker itself uses (its
own DOCKER_HOST, not the manager's), each is tagged `deployhook-<sha12>` and pushed to the
registry its `image:` names, and the registry's digest (`repo@sha256:...`) is what the stack
deploy names. `images: pull`: CI built them; the manager asks the registry for each tag's
digest (what `docker stack deploy` itself would ask), nothing is pulled here.
A rollback or redeploy of a deploy that recorded digests deploys exactly those again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import docker.errors

from jobs.commands import docker as docker_argv
from jobs.compose.images import split_name
from jobs.execution.context import DeployContext
from jobs.execution.runner import Runner
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.runbook.stages.build import commit_tag
from jobs.runbook.stages.pull import digests_of
from jobs.swarm import commands
from jobs.swarm.model import read_stack


def worker_runner(ctx: DeployContext) -> Runner:
    """The deploy's runner, pointed at the worker's own engine instead of the manager."""
    return Runner(ctx.log, dict(os.environ), ctx.runner.fence)


def build_and_push(ctx: DeployContext) -> dict[str, str]:
    """The swarm build stage: service -> `repo@sha256:...` of every built or pulled service."""
    stack = read_stack(ctx.runner, ctx.compose)
    wanted = {
        s.name: str(s.image)
        for s in stack.services.values()
        if s.image and (s.builds if ctx.environment.images == "build" else True)
    }
    ctx.built_images = wanted
    ctx.deploy.image_names = wanted
    ctx.save()
    pinned = digests_of(ctx, ctx.deploy.rollback_to or ctx.deploy.redeploy_of)
    if pinned:
        ctx.log.info("deploying the recorded digests again (no build)")
        digests = {s: d for s, d in pinned.items() if s in wanted}
    elif ctx.environment.images == "pull":
        digests = {s: registry_digest(ctx, name) for s, name in sorted(wanted.items())}
    else:
        digests = _build_and_push(ctx, wanted)
    ctx.deploy.image_digests = digests
    ctx.deploy.images = dict(digests)
    ctx.deploy.build = "built" if ctx.environment.images == "build" and not pinned else "pulled"
    ctx.log.info("images: " + (", ".join(f"{s}={d}" for s, d in sorted(digests.items())) or "none"))
    return digests


def _build_and_push(ctx: DeployContext, names: dict[str, str]) -> dict[str, str]:
    runner = worker_runner(ctx)
    timeout = ctx.environment.timeouts.build
    try:
        if names:
            runner.run(ctx.compose.build(sorted(names)), timeout=timeout)
        digests = {}
        for service, name in sorted(names.items()):
            repository, _ = split_name(name)
            tagged = f"{repository}:{commit_tag(ctx.deploy.sha)}"
            runner.run(docker_argv.tag_image(name, tagged), timeout=120)
            runner.run(commands.push(tagged), timeout=timeout)
            digests[service] = _pushed_digest(runner, tagged, repository)
    except CommandFailed as error:
        raise StageFailed("build", str(error), command=error) from None
    return digests


def _pushed_digest(runner: Runner, name: str, repository: str) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "digests"
        runner.run(
            docker_argv.repo_digests(name), timeout=120, stdout_path=out, quiet=True, read_only=True
        )
        found = json.loads(out.read_text() or "null") or []
    same = [d for d in found if isinstance(d, str) and d.split("@", 1)[0] == repository]
    if not same:
        raise StageFailed("build", f"expected a registry digest of {name} after the push, got none")
    return str(same[0])


def registry_digest(ctx: DeployContext, name: str) -> str:
    """`repo@sha256:...` of the tag `name`, as the registry answers the manager."""
    try:
        data = ctx.docker.images.get_registry_data(name)
    except docker.errors.APIError as error:
        raise StageFailed("build", f"the registry did not resolve {name}: {error}") from None
    return f"{split_name(name)[0]}@{data.id}"
