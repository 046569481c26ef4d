"""Watched-path globs: the syntax `paths:` accepts, validated and matched by pathspec.

Patterns are gitignore's (pathspec's `GitIgnoreSpecPattern`, a well-kept implementation of
git's wildmatch) anchored at the repository root, with `/` between directories: `*` and `?`
match within one path segment, `[abc]`, `[a-z]` and `[!abc]` a character class, and `**` (a
whole segment) any number of directories, none included. A pattern that matches a directory
also matches every file below it, so `services/api` and `services/api/**` watch the same
files. `!` and `#` have no special meaning here (each pattern stands alone).

Validation and matching use the one compiled pattern, so a glob that passes check-config
(`glob_problem` returns None) can always be matched at intake; one pathspec cannot compile
(`[z-a]`) or would silently ignore (`src/[]x`, an unclosed class) is refused with the reason.
Pure functions, table-tested in tests/triggers/test_triggers.py.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` is not a watched-path glob, or None when it is one."""
    if not pattern or pattern != pattern.strip():
        return "is empty or has leading/trailing spaces"
    if pattern.startswith("/") or "\\" in pattern:
        return "must be relative to the repository root, with / between directories"
    segments = pattern.rstrip("/").split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return "has an empty, '.' or '..' path segment"
    if any("**" in segment and segment != "**" for segment in segments):
        return "uses ** inside a segment: write it as a whole segment (a/**/b)"
    if pattern.count("[") != pattern.count("]"):
        return "has an unclosed [ character class"
    try:
        _compile(pattern)
    except ValueError as error:
        return str(error)
    return None


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    """The compiled regular expression of `pattern`; ValueError saying why there is none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # re's "possible nested set" ([[:alpha:]]) too
            regex = GitIgnoreSpecPattern("/" + pattern).regex  # "/": anchored at the root
    except (re.error, FutureWarning) as error:
        raise ValueError(f"is not a valid glob ({error})") from None
    if regex is None:
        raise ValueError("is not a valid glob (an empty or unclosed [ ] class?)")
    return regex


def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression whose `match` says whether a path is watched by `pattern`."""
    problem = glob_problem(pattern)
    if problem:
        raise ValueError(f"{pattern!r} {problem}")
    return _compile(pattern)


def matches_any(patterns: list[str], path: str) -> bool:
    """Whether the repository path `path` is watched by one of `patterns`."""
    return any(compile_glob(pattern).match(path) for pattern in patterns)


def watched(patterns: list[str], changed: list[str]) -> list[str]:
    """The changed paths that one of `patterns` watches, in the order given."""
    return [path for path in changed if matches_any(patterns, path)]
