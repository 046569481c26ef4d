"""Recovery's removal of the git locks a killed worker's git left in the checkout (real git)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from jobs.runbook.stages.checkout import remove_stale_git_locks
from tests.support.commands import BedError
from tests.support.git_repo import git


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository with two commits, at the second; returns it and both SHAs."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "VERSION").write_text("1\n")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "v1")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "VERSION").write_text("2\n")
    git(repo, "commit", "--quiet", "-am", "v2")
    return repo, first, git(repo, "rev-parse", "HEAD")


def test_a_lock_left_by_a_killed_git_is_removed_and_checkout_works_again(
    checkout: tuple[Path, str, str],
) -> None:
    """The CI failure: the revert's `git checkout` failed on index.lock ('File exists')."""
    repo, first, _ = checkout
    (repo / ".git" / "index.lock").write_text("")
    with pytest.raises(BedError, match=r"index\.lock"):
        git(repo, "checkout", "--quiet", "--detach", first)
    assert remove_stale_git_locks(repo, wait=0.2) == [repo / ".git" / "index.lock"]
    git(repo, "checkout", "--quiet", "--detach", first)
    assert git(repo, "rev-parse", "HEAD") == first


def test_a_lock_released_within_the_wait_is_left_to_its_git(
    checkout: tuple[Path, str, str],
) -> None:
    """A git still running finishes and releases its lock: nothing to remove."""
    repo, _, _ = checkout
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    threading.Timer(0.3, lock.unlink).start()
    assert remove_stale_git_locks(repo, wait=5.0) == []


def test_no_lock_no_wait(checkout: tuple[Path, str, str]) -> None:
    repo, _, _ = checkout
    assert remove_stale_git_locks(repo, wait=60.0) == []
