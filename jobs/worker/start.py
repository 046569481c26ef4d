"""Start an RQ worker on the deploy queues with the worker's own settings bound."""

from __future__ import annotations

from redis import Redis

from config import Settings
from jobs.gates.waker import requeue_interrupted_waits, start_window_waker
from jobs.report import start_background
from jobs.runbook.recovery import recover_interrupted
from jobs.state.rqjobs import deploy_worker
from jobs.triggers.poll import start_polling
from jobs.worker import runtime

REPORT_FLUSH_SECONDS = 10.0  # on stop, how long pending reports may still be sent


def run_worker(
    settings: Settings,
    connection: Redis,
    queues: list[str] | None = None,
    *,
    burst: bool = False,
    name: str | None = None,
) -> bool:
    """Work the given queues (default: every queue the configuration names).

    SimpleWorker runs each deploy in this process, so killing the worker kills its deploy,
    and the next start finds the interrupted deploy instead of an orphaned work horse
    carrying on unseen.
    """
    runtime.bind(settings)
    chosen = queues or settings.queues()
    # Reports run beside the deploys, never inside them: a slow provider cannot hold one up.
    stop_reports = start_background(settings, connection)
    # Queues deploys held outside their deploy windows again when a window opens.
    stop_waker = start_window_waker(settings, connection)
    # Polled environments are asked for new commits on a thread beside the deploys.
    stop_polling = start_polling(settings, connection, chosen) if not burst else lambda: None
    try:
        recover_interrupted(settings, connection, chosen)
        requeue_interrupted_waits(settings, connection, chosen)
        # Only jobs.entry.run_deploy(<id>), in JSON: anything else in the queue is refused.
        worker = deploy_worker(chosen, connection, name)
        return bool(worker.work(burst=burst, with_scheduler=False, logging_level="WARNING"))
    finally:
        stop_polling()
        stop_waker()
        stop_reports(REPORT_FLUSH_SECONDS)
