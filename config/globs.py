"""Watched-path globs: the syntax `paths:` accepts, compiled to one regular expression each.

Patterns are anchored at the repository root and use `/` between directories:
`*` and `?` match within one path segment, `[abc]` a character class, and `**` (a whole
segment) any number of directories, none included. A pattern that matches a directory also
matches every file below it, so `services/api` and `services/api/**` watch the same files.
Pure functions, table-tested in tests/test_paths.py.
"""

from __future__ import annotations

import re
from functools import lru_cache


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
    return None


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression matching the paths (and everything below) that `pattern` names."""
    problem = glob_problem(pattern)
    if problem:
        raise ValueError(f"{pattern!r} {problem}")
    parts: list[str] = []
    segments = pattern.rstrip("/").split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]+/)*")
            continue
        parts.append(_segment(segment) + ("" if last else "/"))
    # Anything below a matched directory matches too.
    return re.compile("".join(parts) + "(?:/.*)?", re.DOTALL)


def _segment(segment: str) -> str:
    out, index = [], 0
    while index < len(segment):
        char = segment[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.index("]", index + 1)
            body = segment[index + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(("[^" if negate else "[") + body + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def matches_any(patterns: list[str], path: str) -> bool:
    """Whether the repository path `path` is watched by one of `patterns`."""
    return any(compile_glob(pattern).fullmatch(path) for pattern in patterns)


def watched(patterns: list[str], changed: list[str]) -> list[str]:
    """The changed paths that one of `patterns` watches, in the order given."""
    return [path for path in changed if matches_any(patterns, path)]
