"""Fetch, prove the SHA belongs to the triggering ref, and check it out detached.

Fetching and verifying change nothing in the working tree, so they run before the backup: a
refused SHA ends the deploy `failed` with the environment untouched.

A signed payload could still name any SHA: the commit must be reachable from the pushed branch
or be exactly what the tag points at. Untracked and ignored files (`.env`!) are never touched:
there is no `git clean` here, and `git checkout` keeps files it does not track.
"""

from __future__ import annotations

import time
from pathlib import Path

from jobs.commands import git
from jobs.commands.git_names import is_sha, ref_name_problem
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed


def validate(ctx: DeployContext) -> None:
    deploy = ctx.deploy
    if not is_sha(deploy.sha):
        raise StageFailed("fetch", f"expected a full commit SHA, got {deploy.sha!r}")
    problem = None if deploy.ref_kind == "sha" else ref_name_problem(deploy.ref_name)
    if problem:
        raise StageFailed("fetch", f"refusing the ref name {deploy.ref_name!r}: {problem}")


def fetch_and_verify(ctx: DeployContext) -> None:
    validate(ctx)
    deploy, remote_name, path = ctx.deploy, ctx.environment.remote, ctx.environment.path
    if deploy.ref_kind == "branch":
        tracking = f"refs/remotes/{remote_name}/{deploy.ref_name}"
        refspec = f"+refs/heads/{deploy.ref_name}:{tracking}"
    elif deploy.ref_kind == "tag":
        tracking = f"refs/tags/{deploy.ref_name}"
        refspec = f"+{tracking}:{tracking}"
    else:
        tracking, refspec = "", f"+refs/heads/*:refs/remotes/{remote_name}/*"
    ctx.log.info(f"fetching {refspec} from {remote_name}")
    try:
        ctx.runner.run(
            git.fetch(path, remote_name, refspec),
            timeout=ctx.environment.timeouts.fetch,
            extra_env=git.GIT_ENV,
        )
    except CommandFailed as error:
        raise StageFailed("fetch", "git fetch failed", command=error) from None
    if not _succeeds(ctx, git.has_commit(path, deploy.sha)):
        where = f"{deploy.ref_kind} {deploy.ref_name}" if tracking else remote_name
        raise StageFailed(
            "fetch", f"commit {deploy.sha[:12]} is not in {where} after fetching it: refusing it"
        )
    if deploy.ref_kind == "branch" and not _succeeds(
        ctx, git.is_ancestor(path, deploy.sha, tracking)
    ):
        raise StageFailed(
            "fetch", f"commit {deploy.sha[:12]} is not on branch {deploy.ref_name}: refusing it"
        )
    if deploy.ref_kind == "tag":
        points_at = _commit_of(ctx, tracking)
        if points_at != deploy.sha:
            raise StageFailed(
                "fetch",
                f"expected tag {deploy.ref_name} to point at {deploy.sha[:12]}, "
                f"got {points_at[:12] or 'nothing'}: refusing to deploy it",
            )


def checkout(ctx: DeployContext) -> None:
    check_out(ctx, ctx.deploy.sha)


def check_out(ctx: DeployContext, sha: str, stage: str = "checkout") -> None:
    """Detached checkout of `sha`; post-condition HEAD == sha."""
    if not is_sha(sha):
        raise StageFailed(stage, f"expected a full commit SHA, got {sha!r}")
    try:
        ctx.runner.run(
            git.checkout_detached(ctx.environment.path, sha), timeout=120, extra_env=git.GIT_ENV
        )
    except CommandFailed as error:
        raise StageFailed(stage, f"git checkout {sha[:12]} failed", command=error) from None
    head = _commit_of(ctx, "HEAD")
    if head != sha:
        raise StageFailed(stage, f"expected HEAD at {sha[:12]}, got {head[:12]}")
    ctx.log.info(f"checked out {sha[:12]}")


# The locks a `git checkout` takes in the checkout's .git; a git killed with its worker leaves
# them, and every later git command there then fails ("index.lock: File exists").
GIT_LOCKS = ("index.lock", "HEAD.lock")
STALE_LOCK_WAIT = 10.0


def remove_stale_git_locks(checkout: Path, wait: float = STALE_LOCK_WAIT) -> list[Path]:
    """At recovery only (the worker that ran git is dead, and this one holds the environment's
    lock): a git lock still there after STALE_LOCK_WAIT seconds was left by a killed git (a
    git still running would have finished and released it), so it is removed, as git itself
    says to. Returns the locks removed."""
    git_dir = checkout / ".git"
    deadline = time.monotonic() + wait
    while any((git_dir / name).exists() for name in GIT_LOCKS) and time.monotonic() < deadline:
        time.sleep(0.5)
    removed = []
    for name in GIT_LOCKS:
        lock = git_dir / name
        if lock.exists():
            lock.unlink()
            removed.append(lock)
    return removed


def _succeeds(ctx: DeployContext, argv: list[str]) -> bool:
    result = ctx.runner.run(argv, timeout=60, check=False, quiet=True, read_only=True)
    return result.exit_code == 0


def _commit_of(ctx: DeployContext, ref: str) -> str:
    """The commit `ref` points at in the checkout, or "" when it points at none."""
    argv = git.commit_of(ctx.environment.path, ref)
    result = ctx.runner.run(argv, timeout=60, check=False, quiet=True, read_only=True)
    lines = result.output.strip().splitlines()
    return lines[-1].strip() if result.exit_code == 0 and lines else ""
