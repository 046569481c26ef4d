"""One deploy per environment: a Redis lock that says who holds it, since when and why.

The lock is redis-py's own `redis.lock.Lock` (SET NX PX to take it, its compare-and-extend and
compare-and-delete scripts to renew and release it), with the holder's description as its
token, so the value also tells operators who holds it. A deploy's lock expires unless renewed,
so a lock left by a crashed worker frees itself; a worker on the same host also reclaims at once
a lock whose owning process is gone, by deleting exactly the value it judged dead (a live
worker that took the lock meanwhile wrote another value, which stays). An operator's lock
(`deployhook lock`) has no expiry and holds deploys until it is lifted.

Fencing: `check()` extends the lock only if it is still ours (one atomic script) and raises
LockLost otherwise; the runner calls it right before every command that changes something, so
a deploy that lost its lock stops before it touches the stack again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from redis import Redis
from redis.exceptions import LockNotOwnedError, RedisError
from redis.lock import Lock

from jobs.failures.errors import LockLost, LockTimeout, OperatorHold
from jobs.state import keys
from jobs.state.owners import LockOwner, current_owner, parse_owner

__all__ = ["EnvironmentLock", "LockOwner", "current_owner", "delete_if_unchanged", "lock_key"]


def lock_key(target: str) -> str:
    return keys.lock(target)


def delete_if_unchanged(connection: Redis, key: str, value: bytes | str) -> bool:
    """Delete `key` only if it still holds exactly `value` (redis-py's compare-and-delete)."""
    try:
        Lock(connection, key).do_release(value)  # type: ignore[arg-type]
    except LockNotOwnedError:
        return False
    return True


class EnvironmentLock:
    def __init__(self, connection: Redis, target: str, owner: LockOwner, ttl: float = 30) -> None:
        self.connection = connection
        self.target = target
        self.owner = owner
        self.ttl = ttl
        self.token = json.dumps(asdict(owner), sort_keys=True)
        # thread_local=False: the renewer thread and the runner share the one token.
        self._lock = Lock(connection, keys.lock(target), timeout=ttl, thread_local=False)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = False
        self._taken = False

    def acquire(
        self,
        wait: float,
        on_wait: Callable[[LockOwner], None] | None = None,
        *,
        hold_on_operator: bool = False,
    ) -> None:
        """Take the lock, waiting up to `wait` seconds; reclaim it from a dead local worker.

        With `hold_on_operator`, an operator's lock raises OperatorHold at once instead of
        being waited for: an operator lock may last days, and a worker must not idle on it.
        """
        deadline = time.monotonic() + wait
        told = False
        key = keys.lock(self.target)
        while not self._lock.acquire(blocking=False, token=self.token):
            raw = self.connection.get(key)
            if raw is None:
                continue  # released between our SET NX and our read: try again at once
            holder = parse_owner(raw)
            if holder.is_dead_local_process():
                # Delete exactly the value judged dead; a newer holder's value stays.
                delete_if_unchanged(self.connection, key, raw)
                continue
            if hold_on_operator and holder.deploy_id is None:
                raise OperatorHold(holder.describe())
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"{self.target} is locked by {holder.describe()}; gave up after {wait:.0f}s. "
                    f"If that is stale, run `deployhook unlock {self.target}`"
                )
            if on_wait is not None and not told:
                on_wait(holder)
                told = True
            time.sleep(0.5)
        self.lost = False
        self._taken = True
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, daemon=True, name="lock-renewer")
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._lock.reacquire()
            except LockNotOwnedError:
                self.lost = True
                return
            except RedisError:
                continue  # a blip: the fence checks again before anything changes

    def check(self) -> None:
        """The fence: raise LockLost unless the lock is still ours (and extend it if it is)."""
        if self._taken and not self.lost:
            try:
                self._lock.reacquire()
                return
            except LockNotOwnedError:
                self.lost = True
            except RedisError as error:
                raise LockLost(
                    self.target, f"unknown: Redis could not be asked ({type(error).__name__})"
                ) from None
        try:
            holder = current_owner(self.connection, self.target)
        except RedisError:
            raise LockLost(self.target, "unknown: Redis could not be asked") from None
        raise LockLost(self.target, holder.describe() if holder else "nobody (it expired)")

    def release(self) -> None:
        """Stop renewing and delete the lock if it is still ours; a lost lock stays as it is."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        delete_if_unchanged(self.connection, keys.lock(self.target), self.token)
