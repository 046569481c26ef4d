"""`project/environment` as an operator types it, checked against the configuration."""

from __future__ import annotations

from config import Environment, Settings
from config.targets import split_target
from jobs.failures.errors import DeployError


class OperationError(DeployError):
    """An operator's request cannot be done; the message says why and what to do instead."""


def configured_targets(settings: Settings) -> list[str]:
    return [environment.target for environment in settings.every_environment()]


def parse_target(settings: Settings, text: str) -> Environment:
    """The configured environment `project/environment` names, else OperationError."""
    project, environment = split_target(text)
    known = settings.projects.get(project)
    if known is None or environment not in known.environments:
        raise OperationError(
            f"no environment {text!r} in the configuration; configured: "
            + ", ".join(configured_targets(settings))
        )
    return known.environments[environment]
