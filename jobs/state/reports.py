"""The reporters' state: the pending list, each deploy's cursor and lock, GitHub deployment ids.

Any number of consumers (worker processes, hosts) report deploys: a deploy id waits on the
pending list, a short per-deploy lock lets one consumer report it at a time, and a cursor per
deploy (how many snapshots are reported) lets whoever comes next carry on where the last one
stopped (jobs/report/dispatcher.py).
"""

from __future__ import annotations

from contextlib import suppress
from typing import cast

from redis import Redis
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from jobs.state import keys
from jobs.state.holders import Holder, holder_is_dead, new_token, parse_token
from jobs.state.locks import delete_if_unchanged
from jobs.state.redistext import as_text

CURSOR_TTL_SECONDS = 30 * 24 * 3600  # as long as the snapshots themselves are kept
DEPLOYMENT_TTL_SECONDS = 30 * 24 * 3600
cursor_key = keys.report_cursor
lock_key = keys.reporting_lock
deployment_key = keys.github_deployment


def take_pending(connection: Redis, block: float) -> str | None:
    """The next deploy id with unreported events, waiting up to `block` seconds (0: not)."""
    if block > 0:
        item = connection.blpop([keys.REPORTS_PENDING], timeout=block)
        raw = item[1] if item else None
    else:
        raw = cast("bytes | None", connection.lpop(keys.REPORTS_PENDING))
    return as_text(raw) if raw is not None else None


def put_pending(connection: Redis, *deploy_ids: str) -> None:
    """Hand deploy ids (back) to whichever consumer looks next."""
    if deploy_ids:
        connection.rpush(keys.REPORTS_PENDING, *deploy_ids)


class ReportingLock:
    """One consumer reports a deploy at a time.

    redis-py's Lock: released and refreshed only while it is still ours, so a consumer that
    stalled past its lock never frees or extends the lock of the one that took over. Its token
    names the holding process (jobs/state/holders.py), so that a consumer on the same host can
    break the lock of one that was killed instead of waiting for it to run out.
    """

    def __init__(self, connection: Redis, deploy_id: str, seconds: float) -> None:
        self._connection = connection
        self._key = lock_key(deploy_id)
        self._lock = Lock(connection, self._key, timeout=seconds)

    def acquire(self) -> bool:
        return bool(self._lock.acquire(blocking=False, token=new_token()))

    def break_if_holder_dead(self) -> Holder | None:
        """Delete the lock if its holder is provably dead; that holder, or None if not broken.

        Only the token judged dead is deleted (compare-and-delete): a consumer that took the
        lock meanwhile wrote another token, which stays.
        """
        raw = cast("bytes | None", self._connection.get(self._key))
        holder = parse_token(raw) if raw is not None else None
        if raw is None or holder is None or not holder_is_dead(holder):
            return None
        return holder if delete_if_unchanged(self._connection, self._key, raw) else None

    def refresh(self) -> None:
        """Extend our lock; one that expired meanwhile is someone else's now: go on."""
        with suppress(LockNotOwnedError):
            self._lock.reacquire()

    def release(self) -> None:
        with suppress(LockNotOwnedError):
            self._lock.release()


def start_cursor(connection: Redis, deploy_id: str) -> None:
    """A deploy's cursor starts at 0 the first time anyone reports it."""
    connection.set(cursor_key(deploy_id), 0, nx=True, ex=CURSOR_TTL_SECONDS)


def reported_count(connection: Redis, deploy_id: str) -> int | None:
    """How many of a deploy's snapshots are reported; None when nobody started."""
    cursor = connection.get(cursor_key(deploy_id))
    return int(cursor) if cursor is not None else None


def advance_cursor(connection: Redis, deploy_id: str, reported: int) -> None:
    connection.set(cursor_key(deploy_id), reported, ex=CURSOR_TTL_SECONDS)


def snapshots(connection: Redis, deploy_id: str) -> list[bytes]:
    """The deploy record as it was at each change, oldest first (raw JSON)."""
    return cast("list[bytes]", connection.lrange(keys.events(deploy_id), 0, -1))


def unreported(connection: Redis, deploy_id: str) -> bool:
    """A started deploy has snapshots its cursor has not passed."""
    cursor = reported_count(connection, deploy_id)
    return cursor is not None and cursor < connection.llen(keys.events(deploy_id))


def github_deployment_id(connection: Redis, deploy_id: str) -> int | None:
    """The GitHub deployment made for a deploy, so that every consumer posts to the same one."""
    raw = connection.get(deployment_key(deploy_id))
    return int(raw) if raw is not None else None


def keep_github_deployment_id(connection: Redis, deploy_id: str, deployment_id: int) -> None:
    connection.set(deployment_key(deploy_id), deployment_id, ex=DEPLOYMENT_TTL_SECONDS)
