"""Who holds an environment's lock, read from the lock's value: for the lock itself and for pages.

The value is JSON naming the holder (deploy id or none for an operator, host, pid, since,
reason). `LockOwner` is what the lock writes and compares; `Lock` is the defensive reading the
status pages, metrics and operator actions show, where anything unexpected is "unknown".
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any, Literal

from redis import Redis

from jobs.state import keys
from jobs.state.ids import DEPLOY_ID
from jobs.state.records import utcnow
from jobs.state.redistext import json_object, nonempty_text

LockState = Literal["free", "deploy", "operator", "unknown"]
# This process's start, drawn at random: tells a worker from its successor with the same host
# and pid (a container's PID 1 after a restart). Also in worker names (jobs/state/workers.py).
BOOT = secrets.token_hex(6)


@dataclass(frozen=True)
class LockOwner:
    deploy_id: str | None
    host: str
    pid: int
    since: str
    reason: str
    boot: str = ""  # the holder process's BOOT ("" in locks taken before it was recorded)

    @classmethod
    def for_deploy(cls, deploy_id: str, reason: str) -> LockOwner:
        return cls(deploy_id, socket.gethostname(), os.getpid(), utcnow(), reason, BOOT)

    def describe(self) -> str:
        who = f"deploy {self.deploy_id}" if self.deploy_id else "an operator"
        return f"{who} on {self.host} (pid {self.pid}) since {self.since}: {self.reason}"

    def is_dead_local_process(self) -> bool:
        return self._local_process_state() == "dead"

    def is_alive_local_process(self) -> bool:
        return self._local_process_state() == "alive"

    def _local_process_state(self) -> str:
        """alive or dead for a deploy's lock taken on this host; unknown otherwise."""
        if self.deploy_id is None:
            return "unknown"
        if self.boot and self.host == socket.gethostname() and self.pid == os.getpid():
            # Our pid: this process, or one before it with the same pid (a restarted PID 1).
            return "alive" if self.boot == BOOT else "dead"
        return local_process_state(self.host, self.pid)


def local_process_state(host: str, pid: int) -> str:
    """alive or dead for a process on this host; unknown for one on another host."""
    if host != socket.gethostname() or pid <= 0:
        return "unknown"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        return "alive"  # exists, owned by another user
    return "alive"


def parse_owner(raw: bytes | str) -> LockOwner:
    try:
        data: dict[str, Any] = json.loads(raw)
        return LockOwner(**data)
    except (ValueError, TypeError):
        return LockOwner(None, "?", 0, "?", "unreadable lock value")


def current_owner(connection: Redis, target: str) -> LockOwner | None:
    raw = connection.get(keys.lock(target))
    return None if raw is None else parse_owner(raw)


@dataclass(frozen=True)
class Lock:
    """Who holds an environment's lock: nobody, a deploy, an operator, or unreadable."""

    state: LockState
    deploy_id: str | None = None
    host: str | None = None
    pid: int | None = None
    reason: str | None = None
    since: str | None = None


def parse_lock(raw: bytes | str | None) -> Lock:
    """Turn the lock key's value into a Lock; anything unexpected is "unknown", never an error."""
    if raw is None:
        return Lock("free")
    data = json_object(raw)
    if data is None:
        return Lock("unknown")
    deploy_id = nonempty_text(data.get("deploy_id")) or nonempty_text(data.get("owner"))
    if deploy_id is not None and not DEPLOY_ID.match(deploy_id):
        return Lock("unknown")
    pid = data.get("pid")
    return Lock(
        state="deploy" if deploy_id else "operator",
        deploy_id=deploy_id,
        host=nonempty_text(data.get("host")),
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        reason=nonempty_text(data.get("reason")),
        since=nonempty_text(data.get("since")),
    )
