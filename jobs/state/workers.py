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
    if len(parts) == 3 and parts[1].isdigit():
        if parts[0] == socket.gethostname() and int(parts[1]) == os.getpid():
            # Our own pid: this very process, or one before it (a container's PID 1 restarted).
            return "alive" if parts[2] == BOOT else "dead"
        return "alive" if connection.exists(keys.worker(name or "")) else "dead"
    if len(parts) == 2 and parts[1].isdigit():
        state = local_process_state(parts[0], int(parts[1]))
        return "alive" if state == "alive" else "dead" if state == "dead" else "unknown"
    return "unknown"


def outlived(connection: Redis, name: str | None, wait: float = HEARTBEAT_TTL + 5) -> bool:
    """Whether the worker `name` is gone (dead, or nothing tells: the lock decides), waiting up
    to `wait` seconds for a heartbeat that a killed worker can no longer renew to expire (a
    worker restarted at once finds its predecessor's key still there)."""
    deadline = time.monotonic() + wait
    while (state := worker_state(connection, name)) == "alive" and time.monotonic() < deadline:
        time.sleep(1)
    return state != "alive"
