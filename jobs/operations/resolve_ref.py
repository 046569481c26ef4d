"""Turn what an operator types (branch, tag, full SHA, or nothing) into a ref and a commit.

Names are asked of the checkout's remote with `git ls-remote` (argv only, the name checked
first), so a manual deploy names exactly the commit the remote has now.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

import git

from config import Environment
from jobs.commands.git_names import is_sha, ref_name_problem
from jobs.operations.targets import OperationError

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
    refs = list_remote(environment, timeout)
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
    if trigger.kind == "branch":
        sha = refs.get(f"refs/heads/{trigger.pattern}")
        if sha is None:
            raise OperationError(f"remote {environment.remote} has no branch {trigger.pattern}")
        return "branch", trigger.pattern, sha
    tags = [name[len("refs/tags/") :] for name in refs if name.startswith("refs/tags/")]
    matching = sorted((t for t in tags if fnmatch.fnmatchcase(t, trigger.pattern)), key=version_key)
    if not matching:
        raise OperationError(
            f"remote {environment.remote} has no tag matching {trigger.pattern}: give a REF"
        )
    return "tag", matching[-1], refs[f"refs/tags/{matching[-1]}"]


def list_remote(environment: Environment, timeout: float | None = None) -> dict[str, str]:
    """refname -> commit SHA on the remote; annotated tags are peeled to their commit."""
    seconds = timeout if timeout is not None else environment.timeouts.fetch
    try:
        with git.Repo(environment.path) as repo:
            text = str(
                repo.git.ls_remote(
                    "--heads",
                    "--tags",
                    "--end-of-options",
                    environment.remote,
                    kill_after_timeout=seconds,
                )
            )
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise OperationError(f"{environment.path} is not a git checkout") from None
    except git.GitCommandError as error:
        if error.status == "timeout" or "did not complete in" in str(error.stderr or ""):
            raise OperationError(
                f"git ls-remote {environment.remote} did not answer within {seconds:g} s: give "
                "the full commit SHA instead, or deploy from the host with `deployhook deploy`"
            ) from None
        detail = str(error.stderr or error).strip().splitlines()[-1:] or ["?"]
        raise OperationError(
            f"git ls-remote {environment.remote} failed: {detail[0][-300:]}"
        ) from None
    return parse_listing(text)


def parse_listing(text: str) -> dict[str, str]:
    """`git ls-remote` output -> refname -> commit SHA, annotated tags peeled to their commit."""
    refs: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, name = line.partition("\t")
        if name.endswith("^{}"):
            refs[name[:-3]] = sha  # the peeled commit wins over the tag object
        else:
            refs.setdefault(name, sha)
    return refs


def version_key(tag: str) -> tuple[tuple[int, object], ...]:
    """Sort key: numbers compare as numbers, so v1.10 is newer than v1.9."""
    parts: list[tuple[int, object]] = []
    number = ""
    text = ""
    for char in tag + "\0":
        if char.isdigit():
            if text:
                parts.append((1, text))
                text = ""
            number += char
        else:
            if number:
                parts.append((0, int(number)))
                number = ""
            if char != "\0":
                text += char
    return tuple(parts)
