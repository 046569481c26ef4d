"""The swarm's side of the snapshot and health stages: refusals, what runs now, task health."""

from __future__ import annotations

from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.swarm.model import read_stack
from jobs.swarm.policy import refusals
from jobs.swarm.tasks import read_states, service_images
from jobs.swarm.watch import judge


def refuse_unsafe(ctx: DeployContext) -> None:
    """Refuse, before anything changes, a stack whose update cannot be zero-downtime."""
    environment = ctx.environment
    database = environment.database.service if environment.database else None
    problems = refusals(read_stack(ctx.runner, ctx.compose), environment.zero_downtime, database)
    if problems:
        raise StageFailed("snapshot", "; ".join(problems))


def running_images(ctx: DeployContext) -> dict[str, str]:
    """service -> the image its spec names on the manager (digest included)."""
    return service_images(ctx.docker, ctx.environment.compose.project)


def probe_tasks(ctx: DeployContext) -> tuple[bool, str]:
    """Every service has its tasks running (healthy) on its spec's image, and no update runs."""
    states = read_states(ctx.docker, ctx.environment.compose.project)
    verdict = judge({state.name: state.update_started for state in states}, states)
    if verdict.done:
        return True, f"{len(states)} services converged"
    return False, "services: " + "; ".join(verdict.failures + verdict.waiting)
