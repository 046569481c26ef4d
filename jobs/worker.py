"""Start an RQ worker on the deploy queues with the worker's own settings bound."""

from __future__ import annotations

from redis import Redis
from rq import Queue, SimpleWorker

from config import Settings
from jobs import runtime
from jobs.gates.waker import requeue_interrupted_waits, start_window_waker
from jobs.offsite.schedule import start_offsite_schedule
from jobs.recovery import recover_interrupted
from jobs.report import start_background
from jobs.triggers.poll import start_polling

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
    # Restore drills and off-site retention on their schedules (backups.offsite).
    stop_offsite = start_offsite_schedule(settings, connection, chosen) if not burst else None
    try:
        recover_interrupted(settings, connection, chosen)
        requeue_interrupted_waits(settings, connection, chosen)
        worker = SimpleWorker(
            [Queue(queue, connection=connection) for queue in chosen],
            connection=connection,
            name=name,
        )
        return bool(worker.work(burst=burst, with_scheduler=False, logging_level="WARNING"))
    finally:
        if stop_offsite is not None:
            stop_offsite()
        stop_polling()
        stop_waker()
        stop_reports(REPORT_FLUSH_SECONDS)
