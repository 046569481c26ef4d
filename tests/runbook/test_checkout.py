"""The checkout stage against real repositories: only commits of the triggering ref deploy."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.checkout import check_out, fetch_and_verify
from jobs.runbook.stages.snapshot import take_snapshot
from tests.support.contexts import bare_context
from tests.support.git_repo import git
from tests.support.git_repos import Repos, make_repos


def checkout(ctx: DeployContext) -> None:
    fetch_and_verify(ctx)
    check_out(ctx, ctx.deploy.sha)


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    return make_repos(tmp_path)


def _context(redis_conn: redis.Redis, repos: Repos, tmp_path: Path, **deploy: str) -> DeployContext:
    compose = {"files": ["compose.yml"], "project": "app_dev", "command": "docker-compose"}
    return bare_context(redis_conn, tmp_path, deploy, path=str(repos.checkout), compose=compose)


def test_checks_out_the_pushed_commit_and_keeps_env_file(redis_conn, repos, tmp_path) -> None:
    """A commit on the branch is checked out detached; untracked .env survives."""
    (repos.checkout / ".env").write_text("SECRET=keep-me\n")
    sha = repos.commit({"README": "v2\n"}, "v2")
    checkout(_context(redis_conn, repos, tmp_path, sha=sha))
    assert repos.head() == sha
    assert (repos.checkout / ".env").read_text() == "SECRET=keep-me\n"


def test_refuses_a_commit_not_on_the_branch(redis_conn, repos, tmp_path) -> None:
    """A signed payload naming a commit of another branch does not deploy it."""
    before = repos.head()
    side = repos.commit({"evil": "x\n"}, "side", branch="side")
    with pytest.raises(StageFailed, match="not in branch main after fetching it"):
        checkout(_context(redis_conn, repos, tmp_path, sha=side))
    git(repos.checkout, "fetch", "-q", "origin", "side")  # now the object is here, still refused
    with pytest.raises(StageFailed, match="is not on branch main"):
        checkout(_context(redis_conn, repos, tmp_path, sha=side))
    assert repos.head() == before


def test_refuses_an_unknown_commit(redis_conn, repos, tmp_path) -> None:
    """A SHA that origin does not have is refused after the fetch."""
    with pytest.raises(StageFailed, match="not in branch main"):
        checkout(_context(redis_conn, repos, tmp_path, sha="f" * 40))


def test_tag_must_point_at_the_commit(redis_conn, repos, tmp_path) -> None:
    """A tag deploy checks that the tag really points at the SHA (annotated tags peeled)."""
    first = repos.head()
    second = repos.commit({"README": "v2\n"}, "v2")
    repos.tag("v2.0.0", second)
    ctx = _context(redis_conn, repos, tmp_path, sha=second, ref_kind="tag", ref_name="v2.0.0")
    checkout(ctx)
    assert repos.head() == second
    wrong = _context(redis_conn, repos, tmp_path, sha=first, ref_kind="tag", ref_name="v2.0.0")
    with pytest.raises(StageFailed, match=r"expected tag v2\.0\.0 to point at"):
        checkout(wrong)


@pytest.mark.parametrize(
    ("sha", "ref"),
    [
        ("abc", "main"),
        ("g" * 40, "main"),
        ("a" * 40, "--upload-pack=touch /tmp/x"),
        ("a" * 40, "main;rm -rf /"),
        ("a" * 40, "a..b"),
        ("a" * 40, "x\ny"),
    ],
)
def test_hostile_refs_and_shas_are_refused_before_git_runs(
    redis_conn, repos, tmp_path, sha, ref
) -> None:
    """Malformed SHAs and ref names never reach git."""
    with pytest.raises(StageFailed, match=r"refusing the ref name|expected a full commit SHA"):
        checkout(_context(redis_conn, repos, tmp_path, sha=sha, ref_name=ref))


def test_tracked_changes_stop_the_deploy_before_it_starts(redis_conn, repos, tmp_path) -> None:
    """Local edits to tracked files are refused with the command to inspect them."""
    (repos.checkout / "README").write_text("edited on the server\n")
    with pytest.raises(StageFailed, match="local changes to tracked files") as caught:
        take_snapshot(_context(redis_conn, repos, tmp_path, sha=repos.head()))
    assert "git -C" in str(caught.value)
    assert (repos.checkout / "README").read_text() == "edited on the server\n"
    git(repos.checkout, "checkout", "README")
