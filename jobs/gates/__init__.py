"""Release gates, checked before a deploy takes its environment's lock.

promote_from (blocked unless the commit succeeded there), windows (held until one opens),
wait_for_checks (waits for green CI; red or timeout: blocked). A rollback passes every gate
(it returns to a commit this environment already ran); an operator's override passes them with
its reason recorded. Nothing here touches the stack, so a blocked deploy changed nothing.

The gates run before the lock on purpose: a deploy waiting for CI holds no lock, so an
operator's rollback or lock is never stuck behind it, and a newer push is seen on every poll.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import requests

from config import Environment, Settings
from config.gates import WaitForChecks
from jobs.execution.deploylog import DeployLog
from jobs.gates.checks import CHECKS_WAIT, ChecksUnreadable, Verdict, read_checks
from jobs.gates.promotion import WAIT_SECONDS, promotion
from jobs.gates.waiting import block, settle, still_queued, wait
from jobs.gates.windows import any_open, describe, next_opening
from jobs.state import Connection
from jobs.state.held import hold_for_window
from jobs.state.records import Deploy, DeployStore

PROMOTION_WAIT = (WAIT_SECONDS, 5.0, 30.0)  # timeout, first and longest pause, in seconds


def pass_gates(
    connection: Connection,
    settings: Settings,
    record: Deploy,
    log: DeployLog,
    superseded: Callable[[], bool],
) -> bool:
    """True when the deploy may go on; otherwise it is blocked, held or superseded (recorded)."""
    store = DeployStore(connection)
    if not _gates(connection, settings, store, record, log, superseded):
        return False
    if record.waiting_for is not None and still_queued(store, record):
        record.waiting_for = None  # e.g. held for a window that has opened now
        store.save(record)
    return True


def _gates(
    connection: Connection,
    settings: Settings,
    store: DeployStore,
    record: Deploy,
    log: DeployLog,
    superseded: Callable[[], bool],
) -> bool:
    environment = settings.environment(record.project, record.environment)
    if record.trigger == "rollback" or not _has_gates(environment) or superseded():
        return True  # a superseded deploy goes on to the pipeline's own newest-push-wins rule
    if record.override_reason:
        log.info(f"release gates overridden by {record.sender or 'an operator'}: "
                 f"{record.override_reason}")  # fmt: skip
        return True
    if environment.promote_from and not promoted(store, record, log, environment, superseded):
        return False
    now = datetime.now(UTC)
    if not any_open(environment.windows, now):
        return hold_outside_window(connection, store, record, log, environment, now)
    if environment.wait_for_checks is not None:
        return green_checks(settings, store, record, log, environment.wait_for_checks, superseded)
    return True


def hold_outside_window(
    connection: Connection,
    store: DeployStore,
    record: Deploy,
    log: DeployLog,
    environment: Environment,
    now: datetime,
) -> bool:
    opens = next_opening(environment.windows, now)
    if opens is None:  # cannot happen with validated windows; refuse rather than hold forever
        return block(store, record, log, "windows", "no deploy window ever opens")
    shown = opens.astimezone(environment.windows[0].zone).strftime("%a %Y-%m-%d %H:%M %Z")
    windows = "; ".join(describe(window) for window in environment.windows)
    record.waiting_for = f"the deploy window ({windows}), opens {shown}"
    store.note(record)
    hold_for_window(connection, record.target, record.id, opens)
    log.info(f"held: outside the deploy windows ({windows}); queued again at {shown}")
    return False


def promoted(
    store: DeployStore,
    record: Deploy,
    log: DeployLog,
    environment: Environment,
    superseded: Callable[[], bool],
) -> bool:
    def read() -> Verdict:
        return promotion(store, environment, record)

    first = read()
    if first.light == "red":
        return block(store, record, log, "promote_from", first.detail)
    if first.light == "green":
        return True
    result = wait(store, record, log, read, superseded, PROMOTION_WAIT, "promotion")
    return settle(
        store, record, log, "promote_from", result, ("", "its deploy upstream did not finish: ")
    )


def green_checks(
    settings: Settings,
    store: DeployStore,
    record: Deploy,
    log: DeployLog,
    checks: WaitForChecks,
    superseded: Callable[[], bool],
) -> bool:
    with requests.Session() as session:
        try:
            result = wait(
                store,
                record,
                log,
                lambda: read_checks(settings, record, session),
                superseded,
                (checks.timeout, checks.interval, checks.max_interval),
                CHECKS_WAIT,
            )
        except ChecksUnreadable as error:
            return block(store, record, log, "wait_for_checks", str(error))
    return settle(
        store,
        record,
        log,
        "wait_for_checks",
        result,
        ("CI failed: ", "CI did not finish in time: "),
    )


def _has_gates(environment: Environment) -> bool:
    return bool(environment.promote_from or environment.windows or environment.wait_for_checks)
