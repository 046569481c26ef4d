"""argv for the git questions deployhook asks outside GitPython (run through the runner).

Every value is validated before it gets here (SHAs by jobs/refs.py, ref patterns by the config);
`--end-of-options` keeps a value that starts with `-` from ever being read as an option.
"""

from __future__ import annotations

from pathlib import Path


def diff_names(checkout: Path, live: str, sha: str) -> list[str]:
    """The paths that differ between two commits, NUL-separated; a rename counts as both."""
    return [
        "git",
        "-C",
        str(checkout),
        "diff",
        "--name-only",
        "-z",
        "--no-renames",
        "--end-of-options",
        live,
        sha,
    ]


def ls_remote(checkout: Path, remote: str, refs: list[str]) -> list[str]:
    """What `remote` (a remote of the checkout) names `refs` now, without fetching anything."""
    return ["git", "-C", str(checkout), "ls-remote", "--end-of-options", remote, *refs]


def is_ancestor(checkout: Path, commit: str, of: str) -> list[str]:
    """Exit 0: `commit` is an ancestor of `of` (or the same); 1: it is not; else: unknown.

    Both are validated full SHAs (jobs.refs.is_sha) before they get here.
    """
    return ["git", "-C", str(checkout), "merge-base", "--is-ancestor", commit, of]
