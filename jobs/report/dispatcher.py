"""Take deploy ids from the pending list and report each deploy's new snapshots, in order.

Any number of consumers (worker processes, hosts) may run: a short per-deploy lock makes one of
them report a deploy at a time, and a cursor per deploy (how many snapshots are reported) lets
whoever comes next carry on where the last one stopped. Reporting never writes the deploy
record; the only trace it leaves on a deploy is a recorded reporting problem.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from config import Settings
from jobs.report.delivery import ReportError
from jobs.report.reporter import new_session
from jobs.report.reporters import applicable, build_reporters
from jobs.report.states import events_to_report
from jobs.state import Connection
from jobs.state.records import DEPLOY_ID, Deploy, DeployStore, RecordError
from jobs.state.reports import (
    ReportingLock,
    advance_cursor,
    put_pending,
    reported_count,
    snapshots,
    start_cursor,
    take_pending,
    unreported,
)

log = logging.getLogger("deployhook.report")

BUSY_DELAY_SECONDS = 0.2  # before handing back a deploy that another consumer is reporting
RECENT_DEPLOYS = 200  # how far back a sweep looks for deploys left half-reported


class Dispatcher:
    def __init__(self, settings: Settings, connection: Connection) -> None:
        self.settings = settings
        self.redis = connection
        self.store = DeployStore(connection)
        self.reporters = build_reporters(settings, connection, new_session())
        policy = settings.notify.delivery
        # Refreshed before every reporter call: long enough for one reporter (GitHub
        # Deployments sends two requests) to use up its retries, short enough that a dead
        # consumer's deploy is picked up again within minutes.
        per_request = policy.give_up_after + policy.request_timeout
        self.lock_ms = int(1000 * (2 * per_request + 10))

    def step(self, block: float) -> bool:
        """Handle one pending deploy id, waiting up to `block` seconds (0: do not wait)."""
        deploy_id = take_pending(self.redis, block)
        if deploy_id is None:
            return False
        if not DEPLOY_ID.fullmatch(deploy_id):
            log.warning("dropped a pending report entry that is not a deploy id")
        elif not self.report(deploy_id):
            time.sleep(BUSY_DELAY_SECONDS)
            put_pending(self.redis, deploy_id)
        return True

    def report(self, deploy_id: str) -> bool:
        """Report every unreported snapshot of one deploy; False when another consumer is at it."""
        lock = ReportingLock(self.redis, deploy_id, self.lock_ms / 1000)
        if not _take(lock, deploy_id):
            return False
        try:
            start_cursor(self.redis, deploy_id)
            while self._report_new(deploy_id, lock.refresh):
                pass
        finally:
            lock.release()
        # A snapshot written after our last look, whose pending id a busy-lock pass handed
        # back or dropped, must not wait for the deploy's next change.
        if unreported(self.redis, deploy_id):
            put_pending(self.redis, deploy_id)
        return True

    def requeue_unfinished(self) -> int:
        """Queue again recent deploys whose reporting a dead consumer left half done."""
        recent = self.store.history(limit=RECENT_DEPLOYS)
        left = [deploy.id for deploy in recent if unreported(self.redis, deploy.id)]
        put_pending(self.redis, *left)
        return len(left)

    def _report_new(self, deploy_id: str, hold: Callable[[], None]) -> bool:
        records = [_parse(raw) for raw in snapshots(self.redis, deploy_id)]
        cursor = reported_count(self.redis, deploy_id) or 0
        if cursor >= len(records):
            return False
        states = [record.state if record else "unreadable" for record in records]
        wanted = set(events_to_report(states, cursor))
        for index in range(cursor, len(records)):
            snapshot = records[index]
            if snapshot is None:
                log.warning("deploy %s: skipped snapshot %d, it is not a record", deploy_id, index)
            elif index in wanted:
                self._report_snapshot(snapshot, hold)
            else:
                log.info("deploy %s: skipped the stale %s snapshot", deploy_id, snapshot.state)
            advance_cursor(self.redis, deploy_id, index + 1)
        return True

    def _report_snapshot(self, deploy: Deploy, hold: Callable[[], None]) -> None:
        for reporter in applicable(self.reporters, self.settings, deploy):
            hold()
            try:
                reporter.report(deploy)
            except ReportError as error:
                self._problem(deploy, str(error))
            except Exception:  # a reporter's bug must not stop the other reporters
                log.exception("deploy %s: %s failed unexpectedly", deploy.id, reporter.name)
                self._problem(deploy, f"{reporter.name}: internal error (see the worker log)")

    def _problem(self, deploy: Deploy, text: str) -> None:
        log.warning("deploy %s (delivery %s): %s", deploy.id, deploy.delivery_id or "-", text)
        self.store.add_reporting_problem(deploy.id, f"{deploy.state}: {text}")


def _take(lock: ReportingLock, deploy_id: str) -> bool:
    """Take a deploy's reporting lock, first breaking it if its holder was killed on this host.

    A killed consumer's lock would otherwise hold the deploy's reports back until it runs out
    (lock_ms: minutes with the default delivery settings).
    """
    if lock.acquire():
        return True
    dead = lock.break_if_holder_dead()
    if dead is None:
        return False
    log.warning(
        "deploy %s: broke the reporting lock of %s, which is dead", deploy_id, dead.describe()
    )
    return lock.acquire()


def _parse(raw: bytes | str) -> Deploy | None:
    try:
        return Deploy.from_json(raw)
    except RecordError:
        return None
