"""Run the report consumer beside the worker, and drain it on demand (tests, CLI)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from config import Settings
from jobs.report.dispatcher import Dispatcher
from jobs.state import Connection, RedisError

log = logging.getLogger("deployhook.report")

BLOCK_SECONDS = 1.0  # how long one wait for work lasts; bounds how late a stop is noticed
SWEEP_SECONDS = 300.0  # how often to look for deploys a dead consumer left half-reported
PAUSE_AFTER_ERROR_SECONDS = 1.0


def start_background(settings: Settings, connection: Connection) -> Callable[[float], None]:
    """Start a daemon thread that reports deploys; call the result to stop it.

    `stop(flush_seconds)` lets the thread finish what is pending for up to that long, then
    returns. Whatever is left stays in Redis for the next consumer.
    """
    dispatcher = Dispatcher(settings, connection)
    stopping = threading.Event()
    flush_until = [0.0]

    def run() -> None:
        next_sweep = 0.0
        while not stopping.is_set():
            if time.monotonic() >= next_sweep:
                _guarded(dispatcher.requeue_unfinished)
                next_sweep = time.monotonic() + SWEEP_SECONDS
            _guarded(lambda: dispatcher.step(BLOCK_SECONDS))
        while time.monotonic() < flush_until[0] and _guarded(lambda: dispatcher.step(0)):
            pass

    thread = threading.Thread(target=run, name="deployhook-reports", daemon=True)
    thread.start()

    def stop(flush_seconds: float) -> None:
        flush_until[0] = time.monotonic() + flush_seconds
        stopping.set()
        thread.join(timeout=flush_seconds + BLOCK_SECONDS + 1)

    return stop


def drain(settings: Settings, connection: Connection, timeout: float) -> int:
    """Report everything pending, for up to `timeout` seconds; return how many ids were taken."""
    dispatcher = Dispatcher(settings, connection)
    deadline = time.monotonic() + timeout
    taken = 0
    while time.monotonic() < deadline and dispatcher.step(0):
        taken += 1
    return taken


def _guarded(work: Callable[[], object]) -> bool:
    """Run one piece of consumer work; a failure is logged, paused on, and never ends the loop."""
    try:
        return bool(work())
    except RedisError as error:
        log.warning("reporting paused: Redis failed (%s)", type(error).__name__)
    except Exception:  # the consumer must outlive any single bad deploy
        log.exception("reporting paused after an unexpected error")
    time.sleep(PAUSE_AFTER_ERROR_SECONDS)
    return False
