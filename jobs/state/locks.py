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

A blip is not a loss. The fence and the renewer ask Redis over a connection of their own with
a short timeout and no retries of redis-py's, and judge by time: the lock is surely still ours
until its TTL has passed since the last extension Redis confirmed (counted from before that
request was sent). So when Redis does not answer, the fence asks again until FENCE_MARGIN
before that moment, and only then gives up (LockLost, "unknown"); a deploy whose lock was
really taken or expired still stops at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from redis import ConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import LockNotOwnedError, RedisError
from redis.lock import Lock
from redis.retry import Retry

from jobs.failures.errors import LockLost, LockTimeout, OperatorHold
from jobs.state import keys
from jobs.state.owners import LockOwner, current_owner, parse_owner

__all__ = ["EnvironmentLock", "LockOwner", "current_owner", "delete_if_unchanged", "lock_key"]

# The fence's own requests: a Redis that has not answered within this is asked again.
FENCE_TIMEOUT = 1.0
FENCE_RETRY_PAUSE = 0.25
# Stop asking this long before the lock could have expired (clock rates, the request in flight).
FENCE_MARGIN = 2.0


def fence_connection(connection: Redis) -> Redis:
    """A client of its own to the same server: short timeouts, no retries but the fence's."""
    pool = connection.connection_pool
    kwargs = {
        **pool.connection_kwargs,
        "socket_timeout": FENCE_TIMEOUT,
        "socket_connect_timeout": FENCE_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
    }
    return Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))


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
        # The same lock, extended by the fence and the renewer over their own connection.
        self._fence_lock = Lock(
            fence_connection(connection), keys.lock(target), timeout=ttl, thread_local=False
        )
        self._fence_lock.local.token = self.token.encode()
        self._sure_until = 0.0  # monotonic time until which the lock is surely still ours
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
        started = time.monotonic()
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
            started = time.monotonic()
        self._sure_until = started + self.ttl
        self.lost = False
        self._taken = True
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, daemon=True, name="lock-renewer")
        self._renewer.start()

    def _extend(self) -> None:
        """Extend the lock to a full TTL; LockNotOwnedError when it is not ours any more."""
        started = time.monotonic()
        self._fence_lock.reacquire()
        self._sure_until = max(self._sure_until, started + self.ttl)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._extend()
            except LockNotOwnedError:
                self.lost = True
                return
            except RedisError:
                continue  # a blip: the fence rides it out, or stops once the TTL is past

    def check(self) -> None:
        """The fence: raise LockLost unless the lock is still ours (and extend it if it is).

        While Redis does not answer, ask again until FENCE_MARGIN before the lock could have
        expired; past that, ownership cannot be proven and the answer is LockLost.
        """
        if self._taken and not self.lost:
            problem = ""
            while True:
                try:
                    self._extend()
                    return
                except LockNotOwnedError:
                    self.lost = True
                    break
                except RedisError as error:
                    problem = type(error).__name__
                if time.monotonic() + FENCE_RETRY_PAUSE >= self._sure_until - FENCE_MARGIN:
                    raise LockLost(
                        self.target,
                        f"unknown: Redis could not be asked ({problem}) until the lock "
                        f"could have expired ({self.ttl:.0f} s)",
                    ) from None
                time.sleep(FENCE_RETRY_PAUSE)
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
        self._fence_lock.redis.connection_pool.disconnect()
