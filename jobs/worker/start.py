"""Start an RQ worker on the deploy queues with the worker's own settings bound.

Stopping is bounded (STOP_SECONDS): systemd's TimeoutStopSec and compose.yml's
stop_grace_period allow a little more, so neither ever SIGKILLs the worker at a point of
its choosing. An idle worker stops at once. A busy one does not wait for its deploy, which
may take many minutes: the deploy is handed over (jobs/runbook/recovery.py:hand_over) and
the process exits, exactly as a crash would leave it, and the next worker start finishes it
truthfully.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

from config import Settings
from jobs.gates.waker import requeue_interrupted_waits, start_window_waker
from jobs.offsite.schedule import start_offsite_schedule
from jobs.report import start_background
from jobs.runbook.recovery import hand_over, recover_interrupted
from jobs.state import Connection
from jobs.state.connection import connect
from jobs.state.retention import start_pruning
from jobs.state.rqjobs import GuardedWorker, deploy_worker, why_refused
from jobs.state.workers import start_heartbeat
from jobs.triggers.poll import start_polling
from jobs.worker import runtime

logger = logging.getLogger("deployhook.worker")

REPORT_FLUSH_SECONDS = 10.0  # on stop, how long pending reports may still be sent
# The promise: a worker exits this long after SIGTERM at the latest, busy or idle (idle: the
# side threads' joins, 5 s each at most, and the report flush; busy: two Redis writes).
STOP_SECONDS = 30.0
HAND_OVER_REDIS_TIMEOUT = 3.0


class DeployWorker(GuardedWorker):
    """The guarded deploy worker, whose stop never waits for the deploy in flight.

    SimpleWorker runs each deploy in this process, so killing the worker kills its deploy,
    and the next start finds the interrupted deploy instead of an orphaned work horse carrying
    on unseen. RQ's own SIGTERM handling waits for the job to end: a deploy can take many
    minutes, and a service manager would SIGKILL the worker at its timeout, half-way through
    whatever it was doing. Here a busy worker hands its deploy over and exits at once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running: tuple[str, str] | None = None  # (deploy id, queue) of the job in hand
        self.stopping = threading.Event()

    def execute_job(self, job: Any, queue: Any) -> None:
        # A refused job (GuardedWorker) never runs, so there is nothing to hand over for it.
        self.running = (str(job.args[0]), str(queue.name)) if why_refused(job) is None else None
        try:
            super().execute_job(job, queue)
        finally:
            self.running = None

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.stop_signal)
        signal.signal(signal.SIGTERM, self.stop_signal)

    def stop_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping.is_set():
            return  # already on its way out, within the bound
        self.stopping.set()
        # Whatever happens below, the process is gone within the promised time.
        deadline = threading.Timer(STOP_SECONDS, os._exit, args=(1,))
        deadline.daemon = True
        deadline.start()
        running = self.running
        if running is None:
            self.request_stop(signum, frame)  # type: ignore[no-untyped-call]  # idle: RQ stops at once
            return
        name = signal.Signals(signum).name
        # Not on this thread: a handler may interrupt the main thread inside a Redis call.
        threading.Thread(
            target=self._hand_over_and_exit, args=(*running, name), name="deployhook-stop"
        ).start()

    def _hand_over_and_exit(self, deploy_id: str, queue: str, signal_name: str) -> None:
        try:
            # A client of its own: a handler may interrupt the main thread inside a call on the
            # worker's pooled connection (and hold the pool's lock).
            connection = connect(runtime.settings(), timeout=HAND_OVER_REDIS_TIMEOUT)
            done = hand_over(connection, deploy_id, queue, f"the worker got {signal_name}")
            logger.warning("stopping on %s: deploy %s %s", signal_name, deploy_id, done)
        except Exception:
            # Redis unreachable: the deploy stays `running` (or `queued` on a gate's record),
            # which the next start's recovery finds all the same.
            logger.exception("stopping on %s: could not note deploy %s", signal_name, deploy_id)
        finally:
            logging.shutdown()
            os._exit(0)


def run_worker(
    settings: Settings,
    connection: Connection,
    queues: list[str] | None = None,
    *,
    burst: bool = False,
    name: str | None = None,
) -> bool:
    """Work the given queues (default: every queue the configuration names)."""
    runtime.bind(settings)
    chosen = queues or settings.queues()
    # A heartbeat with a TTL: the next worker knows this one died, even as the same PID 1.
    stop_heartbeat = start_heartbeat(connection)
    # History retention: what Redis keeps stays bounded (history.keep_days, keep_deploys).
    history = settings.history
    targets = [environment.target for environment in settings.every_environment()]
    stop_pruning = start_pruning(connection, targets, history.keep_deploys, history.keep_days)
    # Reports run beside the deploys, never inside them: a slow provider cannot hold one up.
    stop_reports = start_background(settings, connection)
    # Queues deploys held outside their deploy windows again when a window opens.
    stop_waker = start_window_waker(settings, connection)
    # Polled environments are asked for new commits on a thread beside the deploys.
    stop_polling = start_polling(settings, connection, chosen) if not burst else lambda: None
    # Restore drills and off-site retention on their schedules (backups.offsite).
    stop_offsite = start_offsite_schedule(settings, connection, chosen) if not burst else None
    try:
        recover_interrupted(settings, connection, chosen)
        requeue_interrupted_waits(settings, connection, chosen)
        # Only jobs.entry.run_deploy(<id>), in JSON: anything else in the queue is refused.
        worker = deploy_worker(chosen, connection, name, worker_class=DeployWorker)
        return bool(worker.work(burst=burst, with_scheduler=False, logging_level="WARNING"))
    finally:
        if stop_offsite is not None:
            stop_offsite()
        stop_pruning()
        stop_heartbeat()
        stop_polling()
        stop_waker()
        stop_reports(REPORT_FLUSH_SECONDS)
