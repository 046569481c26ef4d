"""`project/environment`: the name of an environment in Redis keys, pages, the API and the CLI.

Joined and split here only (the configuration's names cannot hold a `/`).
"""

from __future__ import annotations

SEPARATOR = "/"


def target_of(project: str, environment: str) -> str:
    return f"{project}{SEPARATOR}{environment}"


def split_target(target: str) -> tuple[str, str]:
    """(project, environment); the environment is "" when `target` has no separator."""
    project, _, environment = target.partition(SEPARATOR)
    return project, environment
