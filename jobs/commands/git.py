"""argv for git in a deploy's checkout: fetch, verify, check out; and the triggers' read-only
questions (diff names, ls-remote). Builds commands, runs none.

Values that reach these come from the configuration (path, remote) or were validated before
(full SHAs, ref names checked by jobs/commands/git_names.py); `--` and `--end-of-options`
keep any of them from being read as an option all the same. Deliberately absent: `clean`,
`reset --hard`, `stash`: untracked and ignored files (`.env`!) in a checkout are never touched.
"""

from __future__ import annotations

from pathlib import Path

# Never wait for a password on a terminal nobody watches: fail, and say so in the log.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0"}


def _git(checkout: Path) -> list[str]:
    return ["git", "-C", str(checkout)]


def fetch(checkout: Path, remote: str, refspec: str) -> list[str]:
    return [*_git(checkout), "fetch", "--", remote, refspec]


def checkout_detached(checkout: Path, sha: str) -> list[str]:
    return [*_git(checkout), "checkout", "--detach", "--quiet", sha]


def has_commit(checkout: Path, sha: str) -> list[str]:
    """Exits 0 when `sha` is a commit the checkout has."""
    return [*_git(checkout), "cat-file", "-e", f"{sha}^{{commit}}"]


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
    """Exit 0: `commit` is an ancestor of `of` (or the same); 1: it is not; else: unknown."""
    return [*_git(checkout), "merge-base", "--is-ancestor", commit, of]


def commit_of(checkout: Path, ref: str) -> list[str]:
    """Prints the commit `ref` points at (a tag peeled to its commit)."""
    return [*_git(checkout), "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}"]
