"""The files a push changed, as its payload lists them, or None when the lists may be partial.

GitHub and Gitea list at most 20 commits (Gitea also sends `total_commits`), GitLab at most 20
beside `total_commits_count`. A forced push's commits do not describe its diff, and a push
without commits (a tag, a new branch at an old commit) says nothing: all of these give None,
and the worker diffs after the fetch instead. The union over the commits is a superset of the
net diff, so "none of these is watched" proves that no watched file changed.
"""

from __future__ import annotations

from typing import Any

GITHUB_COMMIT_LIMIT = 20
_LISTS = ("added", "modified", "removed")


def changed_files(provider: str, payload: dict[str, Any]) -> list[str] | None:
    commits = payload.get("commits")
    if not isinstance(commits, list) or not commits or payload.get("forced") is True:
        return None
    if provider == "gitlab":
        if payload.get("total_commits_count") != len(commits):
            return None
    else:
        if len(commits) >= GITHUB_COMMIT_LIMIT:
            return None
        total = payload.get("total_commits")
        if total is not None and total != len(commits):
            return None
    files: list[str] = []
    for commit in commits:
        if not isinstance(commit, dict):
            return None
        for key in _LISTS:
            names = commit.get(key)
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                return None
            files.extend(names)
    return files
