"""One small loop for the worker's side threads (deploy-window waker, poller).

Each round runs `tick`; a Redis outage only skips that round (nothing is lost: the next round
reads the same state again). The thread is a daemon and `halt()` stops it between rounds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from jobs.state import RedisError


def start_periodic(
    name: str,
    every: float,
    tick: Callable[[], None],
    logger: logging.Logger,
    *,
    first_wait: bool = False,
    join_timeout: float = 5,
) -> Callable[[], None]:
    """Run `tick` every `every` seconds on a daemon thread; returns the function that stops it."""
    stop = threading.Event()

    def loop() -> None:
        if first_wait and stop.wait(every):
            return
        while not stop.is_set():
            try:
                tick()
            except RedisError as error:
                # The type only: a connection error's text may carry the Redis URL.
                logger.warning("%s: Redis unavailable (%s); next round", name, type(error).__name__)
            stop.wait(every)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=join_timeout)

    return halt
