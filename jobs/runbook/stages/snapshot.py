"""Record what runs now (commit and images) and refuse to start on a checkout we cannot own."""

from __future__ import annotations

import git

from jobs.compose.images import running_images, short_image
from jobs.compose.model import read_model
from jobs.compose.zero_downtime import refusals
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.drains import end_earlier_drains
from jobs.swarm import checks as swarm_checks
from jobs.swarm import is_swarm


def take_snapshot(ctx: DeployContext) -> None:
    path = ctx.environment.path
    try:
        repo = git.Repo(path)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise StageFailed(
            "snapshot", f"{path} is not a git checkout: clone the repository there first"
        ) from None
    with repo:
        if repo.is_dirty(index=True, working_tree=True, untracked_files=False):
            changed = ", ".join(sorted(str(item.a_path) for item in repo.index.diff(None))[:5])
            raise StageFailed(
                "snapshot",
                f"{path} has local changes to tracked files ({changed or 'staged changes'}): "
                f"commit or discard them (git -C {path} status); deployhook never discards them",
            )
        ctx.previous_sha = repo.head.commit.hexsha
    if is_swarm(ctx.environment):
        swarm_checks.refuse_unsafe(ctx)
        ctx.previous_images = swarm_checks.running_images(ctx)
    else:
        _refuse_what_cannot_swap(ctx)
        end_earlier_drains(ctx)  # a dead worker's old containers are not what runs
        ctx.previous_images = running_images(ctx)
    ctx.deploy.previous_sha = ctx.previous_sha
    ctx.deploy.previous_images = ctx.previous_images
    ctx.log.info(
        f"running now: {ctx.previous_sha[:12]} with "
        + (
            ", ".join(f"{s}={short_image(i)}" for s, i in sorted(ctx.previous_images.items()))
            or "no containers"
        )
    )


def _refuse_what_cannot_swap(ctx: DeployContext) -> None:
    """Zero-downtime services that cannot run twice side by side: refused before any change."""
    if not ctx.environment.zero_downtime:
        return
    problems = refusals(read_model(ctx.runner, ctx.compose), ctx.environment.zero_downtime)
    if problems:
        raise StageFailed("snapshot", "; ".join(problems))
