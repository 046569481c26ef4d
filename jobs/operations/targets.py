"""`project/environment` as an operator types it, checked against the configuration."""

from __future__ import annotations

from config import Settings
from jobs.failures.errors import DeployError


class OperationError(DeployError):
    """An operator's request cannot be done; the message says why and what to do instead."""


def configured_targets(settings: Settings) -> list[str]:
    return [
        f"{project_name}/{env_name}"
        for project_name, project in sorted(settings.projects.items())
        for env_name in sorted(project.environments)
    ]


def parse_target(settings: Settings, text: str) -> tuple[str, str]:
    """(project, environment) of a configured `project/environment`, else OperationError."""
    project, _, environment = text.partition("/")
    known = settings.projects.get(project)
    if known is None or environment not in known.environments:
        raise OperationError(
            f"no environment {text!r} in the configuration; configured: "
            + ", ".join(configured_targets(settings))
        )
    return project, environment
