"""The swap's commands: one timeout, and one way a failed one becomes the stage's failure.

The rolling swap (rolling.py), its retirements (retiring.py), the other services' `up`
(others_up.py) and the plain `up` (swap.py) all run their commands here, so each failure says
the stage and, where one service's command failed, that service first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed


def run(ctx: DeployContext, argv: list[str], stage: str, service: str | None = None) -> None:
    try:
        ctx.runner.run(argv, timeout=ctx.environment.timeouts.swap)
    except CommandFailed as error:
        says = f"{service}: {error}" if service else str(error)
        raise StageFailed(stage, says, command=error) from None


def short_ids(containers: Iterable[Any]) -> str:
    """Containers as the deploy log names them: the first 12 digits of each id."""
    return ", ".join(container.id[:12] for container in containers) or "none"
