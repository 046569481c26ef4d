"""A manual deploy's REF becomes a ref and a commit via `git ls-remote` of a real origin."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from config import Settings
from jobs.operations.resolve_ref import resolve_ref
from jobs.operations.targets import OperationError, parse_target


def test_refs_resolve_to_the_remote_commit(settings: Settings, repo: Any) -> None:
    """Branch, tag (peeled), full SHA and the defaults name what the remote has now."""
    second = repo.commit("second")
    repo.tag("v1.9.0", repo.first)
    repo.tag("v1.10.0", second)
    dev, prod = settings.environment("app", "dev"), settings.environment("app", "prod")
    assert resolve_ref(dev, None) == ("branch", "main", second)
    assert resolve_ref(dev, "main") == ("branch", "main", second)
    assert resolve_ref(dev, "v1.9.0") == ("tag", "v1.9.0", repo.first)
    assert resolve_ref(prod, None) == ("tag", "v1.10.0", second)  # numeric, not text order
    assert resolve_ref(dev, second) == ("sha", second, second)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope", "no branch or tag 'nope'"),
        ("--upload-pack=sh", "is not a branch, tag or full commit SHA"),
        ("a b", "is not a branch, tag or full commit SHA"),
    ],
)
def test_bad_refs_are_refused(settings: Settings, ref: str, message: str) -> None:
    """Unknown names and option-like or malformed names never reach git as a ref."""
    with pytest.raises(OperationError, match=message):
        resolve_ref(settings.environment("app", "dev"), ref)


def test_tag_trigger_without_tags_asks_for_a_ref(settings: Settings) -> None:
    """A tag-triggered environment whose remote has no matching tag needs an explicit REF."""
    with pytest.raises(OperationError, match="no tag matching v\\*: give a REF"):
        resolve_ref(settings.environment("app", "prod"), None)


def test_unknown_environment_lists_the_configured_ones(settings: Settings) -> None:
    """A misspelt project/environment is refused with the list of configured ones."""
    with pytest.raises(OperationError, match="configured: app/dev, app/prod"):
        parse_target(settings, "app/staging")


def test_an_unreachable_remote_is_named_by_git_s_cause(
    settings: Settings, repo: Any, tmp_path: Any
) -> None:
    """A remote git cannot read fails with git's own cause line, found by the failure finder."""
    gone = tmp_path / "gone.git"
    subprocess.run(
        ["git", "-C", str(repo.checkout), "remote", "set-url", "origin", str(gone)], check=True
    )
    with pytest.raises(OperationError) as caught:
        resolve_ref(settings.environment("app", "dev"), "main")
    assert str(caught.value).startswith("git ls-remote origin failed: fatal: ")
    assert str(gone) in str(caught.value)


def test_a_missing_checkout_is_not_a_git_checkout(settings: Settings, repo: Any) -> None:
    """An environment path without a checkout is named as such, before git is asked anything."""
    shutil.rmtree(repo.checkout / ".git")
    with pytest.raises(OperationError, match="is not a git checkout"):
        resolve_ref(settings.environment("app", "dev"), "main")
