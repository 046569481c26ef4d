"""Fetch, prove the SHA belongs to the triggering ref, and check it out detached.

Fetching and verifying change nothing in the working tree, so they run before the backup: a
refused SHA ends the deploy `failed` with the environment untouched.

A signed payload could still name any SHA: the commit must be reachable from the pushed branch
or be exactly what the tag points at. Untracked and ignored files (`.env`!) are never touched:
there is no `git clean` here, and `git checkout` keeps files it does not track.
"""

from __future__ import annotations

import git

from jobs.context import DeployContext
from jobs.errors import StageFailed
from jobs.refs import is_sha, ref_name_problem


def validate(ctx: DeployContext) -> None:
    deploy = ctx.deploy
    if not is_sha(deploy.sha):
        raise StageFailed("fetch", f"expected a full commit SHA, got {deploy.sha!r}")
    problem = None if deploy.ref_kind == "sha" else ref_name_problem(deploy.ref_name)
    if problem:
        raise StageFailed("fetch", f"refusing the ref name {deploy.ref_name!r}: {problem}")


def fetch_and_verify(ctx: DeployContext) -> None:
    validate(ctx)
    deploy, remote_name = ctx.deploy, ctx.environment.remote
    with git.Repo(ctx.environment.path) as repo:
        remote = repo.remote(remote_name)
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
            remote.fetch(refspec, kill_after_timeout=ctx.environment.timeouts.fetch)
        except git.GitCommandError as error:
            raise StageFailed("fetch", f"git fetch failed: {_stderr(error)}") from None
        if not _has_commit(repo, deploy.sha):
            where = f"{deploy.ref_kind} {deploy.ref_name}" if tracking else remote_name
            raise StageFailed(
                "fetch",
                f"commit {deploy.sha[:12]} is not in {where} after fetching it: refusing it",
            )
        if deploy.ref_kind == "branch" and not _is_ancestor(repo, deploy.sha, tracking):
            raise StageFailed(
                "fetch",
                f"commit {deploy.sha[:12]} is not on branch {deploy.ref_name}: refusing it",
            )
        if deploy.ref_kind == "tag":
            points_at = repo.git.rev_parse("--verify", "--end-of-options", f"{tracking}^{{commit}}")
            if points_at != deploy.sha:
                raise StageFailed(
                    "fetch",
                    f"expected tag {deploy.ref_name} to point at {deploy.sha[:12]}, "
                    f"got {points_at[:12]}: refusing to deploy it",
                )


def checkout(ctx: DeployContext) -> None:
    check_out(ctx, ctx.deploy.sha)


def check_out(ctx: DeployContext, sha: str, stage: str = "checkout") -> None:
    """Detached checkout of `sha`; post-condition HEAD == sha."""
    if not is_sha(sha):
        raise StageFailed(stage, f"expected a full commit SHA, got {sha!r}")
    with git.Repo(ctx.environment.path) as repo:
        try:
            repo.git.checkout("--detach", "--quiet", sha)
        except git.GitCommandError as error:
            raise StageFailed(stage, f"git checkout {sha[:12]} failed: {_stderr(error)}") from None
        head = repo.head.commit.hexsha
    if head != sha:
        raise StageFailed(stage, f"expected HEAD at {sha[:12]}, got {head[:12]}")
    ctx.log.info(f"checked out {sha[:12]}")


def _has_commit(repo: git.Repo, sha: str) -> bool:
    try:
        repo.git.cat_file("-e", f"{sha}^{{commit}}")
    except git.GitCommandError:
        return False
    return True


def _is_ancestor(repo: git.Repo, sha: str, ref: str) -> bool:
    try:
        repo.git.merge_base("--is-ancestor", sha, ref)
    except git.GitCommandError:
        return False
    return True


def _stderr(error: git.GitCommandError) -> str:
    text = str(error.stderr or error).strip().replace("\n", " ")
    return text[-400:]
