"""What the gates decide, what they are given, and the one loop every waiting gate shares.

A gate that says no ends the deploy `blocked` (or `superseded` when a newer push arrived while
it waited); a waiting gate says what it waits for (`Meanwhile.waiting`), so pages and reports
show it. The gates only decide: the runbook writes the decision on the record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from jobs.execution.deploylog import DeployLog
from jobs.gates.checks import Verdict, Waited, wait_for_green


@dataclass(frozen=True)
class Candidate:
    """What the gates judge: a commit of a project on its way to one of its environments."""

    project: str
    environment: str
    sha: str
    rollback: bool = False  # returns to a commit this environment already ran
    override_reason: str | None = None  # an operator's --force REASON
    sender: str | None = None


@dataclass(frozen=True)
class Meanwhile:
    """What a waiting gate asks and tells the runbook, which owns the record."""

    newer: Callable[[], bool]  # a newer push for the environment is queued
    taken: Callable[[], bool]  # another run of this job moved the stored deploy on
    waiting: Callable[[str], None]  # the deploy now waits for this (shown on pages)


@dataclass(frozen=True)
class Decision:
    """go; blocked (`gate`, `reason`); superseded; held until `opens` (`reason`: what for);
    taken (another run of the job has the deploy: this one records nothing)."""

    outcome: Literal["go", "blocked", "superseded", "held", "taken"]
    says: str = ""  # the deploy log's line
    gate: str | None = None
    reason: str | None = None
    opens: datetime | None = None


GO = Decision("go")
SUPERSEDED = Decision(
    "superseded", "a newer push for this environment is queued: skipping this one"
)
TAKEN = Decision("taken", "another run of this deploy's job has taken it: this one stops")


def blocked(gate: str, reason: str) -> Decision:
    return Decision("blocked", f"blocked by {gate}: {reason}", gate=gate, reason=reason)


def wait(
    log: DeployLog,
    candidate: Candidate,
    read: Callable[[], Verdict],
    meanwhile: Meanwhile,
    timing: tuple[float, float, float],
    what: str,
) -> Waited:
    """Poll `read` until it settles, saying what the deploy waits for while it is pending."""

    def seen(verdict: Verdict) -> None:
        log.info(f"{what} for {candidate.sha[:12]}: {verdict.light} ({verdict.detail})")
        if verdict.light == "pending" and not meanwhile.taken():
            meanwhile.waiting(f"{what}: {verdict.detail}")

    timeout, interval, max_interval = timing
    return wait_for_green(
        read,
        timeout=timeout,
        interval=interval,
        max_interval=max_interval,
        # Also stop when another run of this job has taken the deploy meanwhile.
        superseded=lambda: meanwhile.newer() or meanwhile.taken(),
        on_change=seen,
        clock=time.monotonic,
        sleep=time.sleep,
    )


def settle(result: Waited, meanwhile: Meanwhile, gate: str, words: tuple[str, str]) -> Decision:
    """Go on after green; else superseded or blocked, `words` saying red, timed out."""
    if meanwhile.taken():
        return TAKEN
    if result.light == "green":
        return GO
    if result.light == "superseded":
        return SUPERSEDED
    prefix = words[0] if result.light == "red" else words[1]
    return blocked(gate, f"{prefix}{result.detail}")
