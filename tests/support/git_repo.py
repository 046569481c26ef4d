"""Real git repositories for the sample app: a bare origin and an author clone that pushes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from tests.support.commands import run

IDENTITY = {
    "GIT_AUTHOR_NAME": "Sample Author",
    "GIT_AUTHOR_EMAIL": "author@example.test",
    "GIT_COMMITTER_NAME": "Sample Author",
    "GIT_COMMITTER_EMAIL": "author@example.test",
    # The engineer's own ~/.gitconfig (hooks, signing, default branch) stays out of the tests.
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` with a fixed identity; return its stripped stdout."""
    env = {**os.environ, **IDENTITY}
    return run(["git", *args], cwd=cwd, env=env, timeout=120).stdout.strip()


def create_origin(template: Path, origin: Path, author: Path, message: str) -> str:
    """A bare `origin` whose main holds `template`, and an `author` clone; return the sha."""
    origin.mkdir(parents=True)
    git(origin, "init", "--quiet", "--bare", "--initial-branch=main")
    shutil.copytree(template, author, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".env"))
    git(author, "init", "--quiet", "--initial-branch=main")
    git(author, "remote", "add", "origin", origin.as_uri())
    git(author, "add", "--all")
    git(author, "commit", "--quiet", "-m", message)
    git(author, "push", "--quiet", "origin", "main")
    return git(author, "rev-parse", "HEAD")


def commit(author: Path, files: Mapping[str, str | None], message: str, branch: str) -> str:
    """Commit `files` (path -> content, None deletes) on `branch` and push it; return the sha.

    The branch starts from origin's tip of the same name, or from origin/main when new.
    """
    git(author, "fetch", "--quiet", "origin")
    remote_branches = git(author, "branch", "--remotes", "--format=%(refname:short)").split()
    start = f"origin/{branch}" if f"origin/{branch}" in remote_branches else "origin/main"
    git(author, "checkout", "--quiet", "-B", branch, start)
    for relative, content in files.items():
        path = author / relative
        if content is None:
            git(author, "rm", "--quiet", "--", relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        git(author, "add", "--", relative)
    git(author, "commit", "--quiet", "--allow-empty", "-m", message)
    git(author, "push", "--quiet", "origin", f"{branch}:refs/heads/{branch}")
    return git(author, "rev-parse", "HEAD")


def tag(author: Path, name: str, sha: str, annotated: bool) -> str:
    """Tag `sha`, push the tag; return what the tag ref names (the tag object if annotated)."""
    if annotated:
        git(author, "tag", "--annotate", "-m", f"release {name}", name, sha)
    else:
        git(author, "tag", name, sha)
    git(author, "push", "--quiet", "origin", f"refs/tags/{name}")
    return git(author, "rev-parse", f"refs/tags/{name}")


def read(author: Path, relative: str, branch: str = "main") -> str:
    """A file's content at origin's tip of `branch` (what the next commit starts from)."""
    git(author, "fetch", "--quiet", "origin")
    return git(author, "show", f"origin/{branch}:{relative}")


def list_files(author: Path, directory: str, branch: str = "main") -> list[str]:
    """Paths under `directory` at origin's tip of `branch`."""
    listing = git(author, "ls-tree", "--name-only", f"origin/{branch}", f"{directory}/")
    return listing.splitlines()
