"""Which worker process runs a deploy, and whether it still lives: a name and a heartbeat.

A worker is named `host:pid:boot`, where `boot` is drawn at random when the process starts.
Host and pid alone cannot tell a dead worker from its successor: a worker in a container runs
as PID 1 on the host's name, and after a restart the new PID 1 judged the old one alive, so a
half-done deploy stayed `running` forever. While it runs, a worker keeps the key
`deployhook:worker:<name>` alive (HEARTBEAT_TTL, renewed every HEARTBEAT_EVERY); a name whose
key has expired is a dead worker, on this host or any other.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Literal

from redis import Redis

from jobs.execution.periodic import start_periodic
from jobs.state import keys
from jobs.state.owners import BOOT, local_process_state

HEARTBEAT_TTL = 30
HEARTBEAT_EVERY = 10.0

logger = logging.getLogger("deployhook.worker")
WorkerState = Literal["alive", "dead", "unknown"]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{BOOT}"


def beat(connection: Redis) -> None:
    connection.set(keys.worker(worker_name()), "1", ex=HEARTBEAT_TTL)


def start_heartbeat(connection: Redis) -> Callable[[], None]:
    """Beat now and then every HEARTBEAT_EVERY seconds; the returned function stops it and
    removes the key (a worker that stops cleanly is dead at once)."""
    beat(connection)
    halt = start_periodic("deployhook-heartbeat", HEARTBEAT_EVERY, lambda: beat(connection), logger)

    def stop() -> None:
        halt()
        forget(connection)

    return stop


def forget(connection: Redis) -> None:
    """Remove this worker's heartbeat: it is stopping, and is dead to the next start at once."""
    connection.delete(keys.worker(worker_name()))


def worker_state(connection: Redis, name: str | None) -> WorkerState:
    """alive or dead for a named worker (its heartbeat); for an old `host:pid` name, what its
    process says on this host; unknown when nothing tells."""
    parts = (name or "").split(":")
    if _by_heartbeat(parts):
        return "alive" if connection.exists(keys.worker(name or "")) else "dead"
    if len(parts) == 3 and parts[1].isdigit():
        # Our own pid: this very process, or one before it (a container's PID 1 restarted).
        return "alive" if parts[2] == BOOT else "dead"
    if len(parts) == 2 and parts[1].isdigit():
        state = local_process_state(parts[0], int(parts[1]))
        return "alive" if state == "alive" else "dead" if state == "dead" else "unknown"
    return "unknown"


def outlived(connection: Redis, name: str | None, wait: float = HEARTBEAT_TTL + 5) -> bool:
    """Whether the worker `name` is gone (dead, or nothing tells: the lock decides).

    A heartbeat still there may be a killed worker's, which nothing renews any more (a worker
    restarted at once finds its predecessor's key): wait up to `wait` seconds for it to expire.
    A heartbeat renewed meanwhile (every HEARTBEAT_EVERY) proves its worker alive: the rest
    is not waited out. An answer from this host's process table (an old `host:pid` name, or
    this very process) expires nothing, so it stands at once.
    """
    deadline = time.monotonic() + wait
    left = _heartbeat_left(connection, name)
    while worker_state(connection, name) == "alive":
        if left is None or time.monotonic() >= deadline:
            return False
        time.sleep(1)
        now = _heartbeat_left(connection, name)
        if now is not None and now > left:
            return False  # renewed since the last look: its worker beats
        left = now
    return True


def _by_heartbeat(parts: list[str]) -> bool:
    """Is the worker named `host:pid:boot` (split at the colons) another process, which only
    its heartbeat key tells about?"""
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    return not (parts[0] == socket.gethostname() and int(parts[1]) == os.getpid())


def _heartbeat_left(connection: Redis, name: str | None) -> int | None:
    """Milliseconds left on the heartbeat that `name` is judged by; None when it is judged by
    something else (this host's process table, this process) or its key has no expiry."""
    if not _by_heartbeat((name or "").split(":")):
        return None
    left = int(connection.pttl(keys.worker(name or "")))
    return left if left >= 0 else None
