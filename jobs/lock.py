"""One deploy per environment: a Redis lock that says who holds it, since when and why.

A deploy's lock expires unless renewed, so a lock left by a crashed worker frees itself; a
worker on the same host also reclaims at once a lock whose owning process is gone. An operator's
lock (`deployhook lock`) has no expiry and holds deploys until it is lifted.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis

from jobs.errors import LockTimeout
from jobs.record import PREFIX, utcnow

_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)


def lock_key(target: str) -> str:
    return f"{PREFIX}:lock:{target}"


@dataclass(frozen=True)
class LockOwner:
    deploy_id: str | None
    host: str
    pid: int
    since: str
    reason: str

    @classmethod
    def for_deploy(cls, deploy_id: str, reason: str) -> LockOwner:
        return cls(deploy_id, socket.gethostname(), os.getpid(), utcnow(), reason)

    def describe(self) -> str:
        who = f"deploy {self.deploy_id}" if self.deploy_id else "an operator"
        return f"{who} on {self.host} (pid {self.pid}) since {self.since}: {self.reason}"

    def is_local(self) -> bool:
        return self.host == socket.gethostname()

    def is_dead_local_process(self) -> bool:
        if self.deploy_id is None or not self.is_local():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def current_owner(connection: Redis, target: str) -> LockOwner | None:
    raw = connection.get(lock_key(target))
    if raw is None:
        return None
    try:
        data: dict[str, Any] = json.loads(raw)
        return LockOwner(**data)
    except (ValueError, TypeError):
        return LockOwner(None, "?", 0, "?", "unreadable lock value")


class EnvironmentLock:
    def __init__(self, connection: Redis, target: str, owner: LockOwner, ttl: float = 30) -> None:
        self.connection = connection
        self.target = target
        self.owner = owner
        self.ttl_ms = int(ttl * 1000)
        self._token = json.dumps(asdict(owner), sort_keys=True)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = False

    def acquire(self, wait: float, on_wait: Callable[[LockOwner], None] | None = None) -> None:
        """Take the lock, waiting up to `wait` seconds; reclaim it from a dead local worker."""
        deadline = time.monotonic() + wait
        told = False
        key = lock_key(self.target)
        while not self.connection.set(key, self._token, nx=True, px=self.ttl_ms):
            holder = current_owner(self.connection, self.target)
            if holder is not None and holder.is_dead_local_process():
                # The holder's process is gone: compare-and-delete its exact value, then retry.
                self.connection.eval(_RELEASE, 1, key, self.connection.get(key) or "")
                continue
            if time.monotonic() >= deadline:
                held_by = holder.describe() if holder else "someone"
                raise LockTimeout(
                    f"{self.target} is locked by {held_by}; gave up after {wait:.0f}s. "
                    f"If that is stale, run `deployhook unlock {self.target}`"
                )
            if holder is not None and on_wait is not None and not told:
                on_wait(holder)
                told = True
            time.sleep(0.5)
        self._renewer = threading.Thread(target=self._renew, daemon=True, name="lock-renewer")
        self._renewer.start()

    def _renew(self) -> None:
        interval = self.ttl_ms / 3000
        while not self._stop.wait(interval):
            renewed = self.connection.eval(
                _RENEW, 1, lock_key(self.target), self._token, self.ttl_ms
            )
            if not renewed:
                self.lost = True
                return

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        self.connection.eval(_RELEASE, 1, lock_key(self.target), self._token)
