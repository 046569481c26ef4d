"""Turn what an operator types (branch, tag, full SHA, or nothing) into a ref and a commit.

Names are asked of the checkout's remote with `git ls-remote` (jobs/triggers/remote.py: argv
only, through the one Runner, the name checked first), so a manual deploy names exactly the
commit the remote has now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from config import Environment
from jobs.commands.git_names import is_sha, ref_name_problem
from jobs.execution.questions import question_runner
from jobs.failures.errors import CommandFailed
from jobs.operations.targets import OperationError
from jobs.triggers.remote import EVERY_BRANCH_AND_TAG, list_remote, matching, version_key

RefKind = Literal["branch", "tag", "sha"]


def resolve_ref(
    environment: Environment, ref: str | None, timeout: float | None = None
) -> tuple[RefKind, str, str]:
    """(kind, name, sha) for `ref`; no ref: the trigger branch's head or the newest tag."""
    if ref is not None and is_sha(ref):
        return "sha", ref, ref
    if ref is not None and ref_name_problem(ref):
        raise OperationError(
            f"{ref!r} is not a branch, tag or full commit SHA: give a name such as main or "
            "v1.2.0, or all 40 hex digits of a commit"
        )
    refs = remote_refs(environment, timeout)
    if ref is None:
        return _default(environment, refs)
    branch, tag = refs.get(f"refs/heads/{ref}"), refs.get(f"refs/tags/{ref}")
    if branch and tag:
        raise OperationError(f"{ref} is both a branch and a tag: give the commit SHA instead")
    if branch:
        return "branch", ref, branch
    if tag:
        return "tag", ref, tag
    raise OperationError(
        f"no branch or tag {ref!r} on remote {environment.remote} of {environment.path}: "
        f"check the name (git -C {environment.path} ls-remote {environment.remote})"
    )


def _default(environment: Environment, refs: dict[str, str]) -> tuple[RefKind, str, str]:
    trigger = environment.trigger
    found = matching(trigger, refs)
    if trigger.kind == "branch":
        if not found:
            raise OperationError(f"remote {environment.remote} has no branch {trigger.pattern}")
        return "branch", trigger.pattern, found[trigger.pattern]
    if not found:
        raise OperationError(
            f"remote {environment.remote} has no tag matching {trigger.pattern}: give a REF"
        )
    newest = sorted(found, key=version_key)[-1]
    return "tag", newest, found[newest]


def remote_refs(environment: Environment, timeout: float | None = None) -> dict[str, str]:
    """refname -> commit SHA on the remote; annotated tags are peeled to their commit."""
    seconds = timeout if timeout is not None else environment.timeouts.fetch
    if not (Path(environment.path) / ".git").exists():
        raise OperationError(f"{environment.path} is not a git checkout")
    try:
        return list_remote(question_runner(), environment, EVERY_BRANCH_AND_TAG, seconds)
    except CommandFailed as error:
        if error.exit_code is None:
            raise OperationError(
                f"git ls-remote {environment.remote} did not answer within {seconds:g} s: give "
                "the full commit SHA instead, or deploy from the host with `deployhook deploy`"
            ) from None
        cause = error.cause(300) or "?"
        raise OperationError(f"git ls-remote {environment.remote} failed: {cause}") from None
    except OSError as error:
        raise OperationError(f"cannot run git: {error.strerror or error}") from None
