"""Release gates, checked before a deploy takes its environment's lock.

promote_from (blocked unless the commit succeeded there), windows (held until one opens),
wait_for_checks (waits for green CI; red or timeout: blocked). A rollback passes every gate
(it returns to a commit this environment already ran); an operator's override passes them with
its reason recorded. Nothing here touches the stack, so a blocked deploy changed nothing.

The gates run before the lock on purpose: a deploy waiting for CI holds no lock, so an
operator's rollback or lock is never stuck behind it, and a newer push is seen on every poll.

The gates decide and say so as data (`Decision`); they never write the deploy's record. The
runbook records what they decided, in one place (jobs/runbook/pipeline.py `pass_gates`), and
hands them `Meanwhile`: how a waiting gate asks whether the deploy is still wanted and says
what it waits for.
"""

from __future__ import annotations

from datetime import UTC, datetime

import requests

from config import Environment, Settings
from config.gates import WaitForChecks
from jobs.execution.deploylog import DeployLog
from jobs.gates.checks import CHECKS_WAIT, ChecksUnreadable, Verdict, read_checks
from jobs.gates.promotion import WAIT_SECONDS, promotion
from jobs.gates.waiting import GO, Candidate, Decision, Meanwhile, blocked, settle, wait
from jobs.gates.windows import any_open, describe, next_opening
from jobs.state.records import DeployStore

PROMOTION_WAIT = (WAIT_SECONDS, 5.0, 30.0)  # timeout, first and longest pause, in seconds
__all__ = ["Candidate", "Decision", "Meanwhile", "decide"]


def decide(
    settings: Settings,
    history: DeployStore,
    log: DeployLog,
    candidate: Candidate,
    meanwhile: Meanwhile,
) -> Decision:
    """Whether `candidate` may go on now; `history` is read by promote_from only."""
    environment = settings.environment(candidate.project, candidate.environment)
    if candidate.rollback or not _has_gates(environment) or meanwhile.newer():
        return GO  # a superseded deploy goes on to the pipeline's own newest-push-wins rule
    if candidate.override_reason:
        log.info(f"release gates overridden by {candidate.sender or 'an operator'}: "
                 f"{candidate.override_reason}")  # fmt: skip
        return GO
    if environment.promote_from:
        promoted = promotion_gate(history, log, candidate, environment, meanwhile)
        if promoted.outcome != "go":
            return promoted
    now = datetime.now(UTC)
    if not any_open(environment.windows, now):
        return outside_window(environment, now)
    if environment.wait_for_checks is not None:
        return checks_gate(settings, log, candidate, environment.wait_for_checks, meanwhile)
    return GO


def outside_window(environment: Environment, now: datetime) -> Decision:
    opens = next_opening(environment.windows, now)
    if opens is None:  # cannot happen with validated windows; refuse rather than hold forever
        return blocked("windows", "no deploy window ever opens")
    shown = opens.astimezone(environment.windows[0].zone).strftime("%a %Y-%m-%d %H:%M %Z")
    windows = "; ".join(describe(window) for window in environment.windows)
    return Decision(
        "held",
        f"held: outside the deploy windows ({windows}); queued again at {shown}",
        reason=f"the deploy window ({windows}), opens {shown}",
        opens=opens,
    )


def promotion_gate(
    history: DeployStore,
    log: DeployLog,
    candidate: Candidate,
    environment: Environment,
    meanwhile: Meanwhile,
) -> Decision:
    def read() -> Verdict:
        return promotion(history, environment, candidate.project, candidate.sha)

    first = read()
    if first.light == "red":
        return blocked("promote_from", first.detail)
    if first.light == "green":
        return GO
    result = wait(log, candidate, read, meanwhile, PROMOTION_WAIT, "promotion")
    return settle(result, meanwhile, "promote_from", ("", "its deploy upstream did not finish: "))


def checks_gate(
    settings: Settings,
    log: DeployLog,
    candidate: Candidate,
    checks: WaitForChecks,
    meanwhile: Meanwhile,
) -> Decision:
    with requests.Session() as session:
        try:
            result = wait(
                log,
                candidate,
                lambda: read_checks(settings, candidate.project, candidate.sha, session),
                meanwhile,
                (checks.timeout, checks.interval, checks.max_interval),
                CHECKS_WAIT,
            )
        except ChecksUnreadable as error:
            return blocked("wait_for_checks", str(error))
    return settle(
        result, meanwhile, "wait_for_checks", ("CI failed: ", "CI did not finish in time: ")
    )


def _has_gates(environment: Environment) -> bool:
    return bool(environment.promote_from or environment.windows or environment.wait_for_checks)
