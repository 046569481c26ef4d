"""argv for the git commands the triggers run: read-only questions to a checkout or a remote.

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
