"""Watch a stack deploy until every service converged; a rollback, a pause or a timeout fails it.

`docker stack deploy` returns as soon as the manager accepted the new specs. The update itself
runs afterwards, task by task, and Swarm may end it in `rollback_completed`: to anyone who does
not look, a rolled-back update looks like a success. So after the deploy, every service of the
stack is read until it has converged:
- a new update (its UpdateStatus started after the deploy began) must reach `completed`;
  `paused`, `rollback_paused` and `rollback_completed` fail at once, `rollback_started` once
  Swarm's own rollback has ended (or the timeout): a revert deployed while Swarm still rolls
  back races it, task against task, and was seen to leave a service with more tasks than its
  replicas that never converged;
- every task Swarm wants running runs the spec's image, and as many as the spec asks for
  (a task with a healthcheck only counts as running once healthy).
A service the deploy did not change converges at once. `judge` is pure (table-tested).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.swarm.tasks import ServiceState, placement, read_states

FAILED = ("paused", "rollback_started", "rollback_paused", "rollback_completed")
# Swarm is still putting the previous spec back: the update has failed, but a stack deploy
# now (the revert's) would race Swarm's own rollback, task against task.
SETTLING = "rollback_started"
FIRST_INTERVAL = 0.5
MAX_INTERVAL = 3.0


@dataclass(frozen=True)
class Verdict:
    done: bool
    failures: list[str]
    waiting: list[str]
    settling: bool = False  # a failed service whose rollback Swarm is still running


def judge(before: dict[str, str | None], states: list[ServiceState]) -> Verdict:
    """Converged, failed (why), or still waiting (on what), from one look at the services."""
    failures: list[str] = []
    waiting: list[str] = []
    settling = False
    for state in states:
        fresh = state.update_started is not None and state.update_started != before.get(state.name)
        if fresh and state.update_state in FAILED:
            settling = settling or state.update_state == SETTLING
            failures.append(
                f"{state.name}: update {state.update_state}"
                + (f" ({state.update_message})" if state.update_message else "")
                + _task_errors(state)
            )
            continue
        if fresh and state.update_state not in (None, "completed"):
            waiting.append(f"{state.name}: update {state.update_state}")
            continue
        wanted = [task for task in state.tasks if task.desired == "running"]
        ready = [t for t in wanted if t.state == "running" and t.image == state.image]
        if len(ready) != len(wanted) or (
            state.replicas is not None and len(ready) != state.replicas
        ):
            expected = state.replicas if state.replicas is not None else len(wanted)
            waiting.append(
                f"{state.name}: {len(ready)}/{expected} tasks running its image"
                + _task_errors(state)
            )
    return Verdict(not failures and not waiting, failures, waiting, settling)


def _task_errors(state: ServiceState) -> str:
    errors = sorted({f"{t.node}: {t.error}" for t in state.tasks if t.error})
    return f"; task errors: {' | '.join(errors[-3:])}" if errors else ""


def wait_converged(
    ctx: DeployContext, stack: str, before: dict[str, str | None], stage: str
) -> list[ServiceState]:
    """Poll until `judge` says done (returns the states) or fails; StageFailed otherwise."""
    timeout = ctx.environment.swarm_settings.update_timeout
    deadline = time.monotonic() + timeout
    interval = FIRST_INTERVAL
    shown = ""
    while True:
        states = read_states(ctx.docker, stack)
        verdict = judge(before, states)
        if verdict.failures and verdict.settling and time.monotonic() < deadline:
            # Failed already; let Swarm finish its rollback before the revert deploys anything.
            if shown != SETTLING:
                ctx.log.info("update failed; waiting for Swarm's rollback to finish: "
                             + "; ".join(verdict.failures))  # fmt: skip
                shown = SETTLING
            time.sleep(interval)
            interval = min(interval * 1.5, MAX_INTERVAL)
            continue
        if verdict.failures:
            ctx.log.info(f"tasks: {placement(states)}")
            raise StageFailed(stage, "swarm update failed: " + "; ".join(verdict.failures))
        if verdict.done:
            ctx.log.info(f"converged: {placement(states)}")
            return states
        now = "; ".join(verdict.waiting)
        if now != shown:
            ctx.log.info(f"waiting: {now}")
            shown = now
        if time.monotonic() >= deadline:
            raise StageFailed(
                stage,
                f"not converged within {timeout:.0f}s; last seen: {now}; "
                f"tasks: {placement(states)}",
            )
        time.sleep(interval)
        interval = min(interval * 1.5, MAX_INTERVAL)
