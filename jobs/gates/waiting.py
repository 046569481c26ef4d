"""How a gate ends a deploy, and the one loop every waiting gate shares.

A gate that says no ends the deploy `blocked` (or `superseded` when a newer push arrived while
it waited); a waiting gate notes on the record what it waits for, so pages and reports show it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from jobs.execution.deploylog import DeployLog
from jobs.gates.checks import Verdict, Waited, wait_for_green
from jobs.state.records import Deploy, DeployStore
from jobs.state.workers import worker_name


def still_queued(store: DeployStore, record: Deploy) -> bool:
    """Whether the stored deploy is still queued: our copy is only written back while it is.

    Records are written whole; during a long wait another run of the same job (queued again by
    an unlock or a restart) may have moved it on, and our stale copy must not overwrite that.
    """
    return store.get(record.id).state == "queued"


def block(store: DeployStore, record: Deploy, log: DeployLog, gate: str, reason: str) -> bool:
    log.info(f"blocked by {gate}: {reason}")
    store.transition(
        record, "blocked", error=reason, blocked_by=gate, waiting_for=None, worker=None
    )
    return False


def wait(
    store: DeployStore,
    record: Deploy,
    log: DeployLog,
    read: Callable[[], Verdict],
    superseded: Callable[[], bool],
    timing: tuple[float, float, float],
    what: str,
) -> Waited:
    """Poll `read` until it settles, noting on the record what the deploy waits for."""

    def seen(verdict: Verdict) -> None:
        log.info(f"{what} for {record.sha[:12]}: {verdict.light} ({verdict.detail})")
        if verdict.light == "pending" and still_queued(store, record):
            record.waiting_for = f"{what}: {verdict.detail}"
            # Who waits: a worker that dies mid-wait leaves the deploy queued; the next worker
            # on this host queues it again (jobs/gates/waker.py requeue_interrupted_waits).
            record.worker = worker_name()
            store.note(record)

    timeout, interval, max_interval = timing
    return wait_for_green(
        read,
        timeout=timeout,
        interval=interval,
        max_interval=max_interval,
        # Also stop when another run of this job has taken the deploy meanwhile.
        superseded=lambda: superseded() or not still_queued(store, record),
        on_change=seen,
        clock=time.monotonic,
        sleep=time.sleep,
    )


def settle(
    store: DeployStore,
    record: Deploy,
    log: DeployLog,
    gate: str,
    result: Waited,
    words: tuple[str, str],
) -> bool:
    """Go on after green; else end it superseded or blocked, `words` saying red, timed out."""
    if not still_queued(store, record):
        log.info("another run of this deploy's job has taken it: this one stops")
        return False
    if result.light == "green":
        record.waiting_for = record.worker = None
        store.save(record)
        return True
    if result.light == "superseded":
        log.info("a newer push for this environment is queued: skipping this one")
        store.transition(record, "superseded", waiting_for=None, worker=None)
        return False
    prefix = words[0] if result.light == "red" else words[1]
    return block(store, record, log, gate, f"{prefix}{result.detail}")
