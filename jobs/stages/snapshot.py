"""Record what runs now (commit and images) and refuse to start on a checkout we cannot own."""

from __future__ import annotations

import git

from jobs.context import DeployContext
from jobs.errors import StageFailed
from jobs.images import running_images


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
    ctx.previous_images = running_images(ctx)
    ctx.deploy.previous_sha = ctx.previous_sha
    ctx.deploy.previous_images = ctx.previous_images
    ctx.log.info(
        f"running now: {ctx.previous_sha[:12]} with "
        + (
            ", ".join(f"{s}={i[7:19]}" for s, i in sorted(ctx.previous_images.items()))
            or "no containers"
        )
    )
