"""argv for the git questions deployhook asks outside GitPython (run through the runner)."""

from __future__ import annotations

from pathlib import Path


def is_ancestor(checkout: Path, commit: str, of: str) -> list[str]:
    """Exit 0: `commit` is an ancestor of `of` (or the same); 1: it is not; else: unknown.

    Both are validated full SHAs (jobs.refs.is_sha) before they get here.
    """
    return ["git", "-C", str(checkout), "merge-base", "--is-ancestor", commit, of]
