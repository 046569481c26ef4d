"""Operator locks: hold an environment so that no deploy starts there until it is unlocked.

An operator lock uses the same key as a deploy's lock, without a deploy id, so the pipeline
sees the environment as taken. It never replaces or removes a lock a deploy holds: that would
let two deploys touch one environment at once.
"""

from __future__ import annotations

import json
import os
import socket

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import WatchError

from config import Settings
from jobs.state.held import release_held
from jobs.state.keys import lock as lock_key
from jobs.state.owners import Lock, parse_lock
from jobs.state.records import utcnow

REASON_PREFIX = "locked by operator via API: "
MAX_REASON = 200


class LockConflict(Exception):
    """A deploy (or an unreadable value) holds the environment's lock; nothing was changed."""


def check_reason(reason: object) -> str:
    """The operator's reason, stripped; refuses empty, long or control-character text."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError('give a reason, e.g. {"reason": "database maintenance"}')
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise ValueError(f"reason is {len(text)} characters long; at most {MAX_REASON} allowed")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise ValueError("reason must be one line of printable text")
    return text


def _refuse_if_deploy_holds(current: Lock, target: str, action: str) -> None:
    if current.state == "deploy":
        raise LockConflict(
            f"cannot {action} {target}: deploy {current.deploy_id} holds the lock; "
            "wait for it to finish, then try again"
        )
    if current.state == "unknown":
        # It may be a deploy's lock in a form this version cannot read: never take it over.
        raise LockConflict(
            f"cannot {action} {target}: its lock holds a value deployhook cannot read; "
            f"inspect it with: redis-cli get {lock_key(target)}"
        )


def _guarded(connection: Redis, target: str, action: str, change: str | None) -> Lock:
    """Apply `change` (a new lock value, or None to delete) unless a deploy may hold the lock.

    WATCH makes the check and the write one step: a deploy that takes the lock in between
    makes the transaction fail and the check run again, instead of being overwritten.
    """
    key = lock_key(target)
    with connection.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                current = parse_lock(pipe.get(key))
                _refuse_if_deploy_holds(current, target, action)
                pipe.multi()
                _write(pipe, key, change)
                pipe.execute()
                return current
            except WatchError:
                continue


def _write(pipe: Pipeline, key: str, change: str | None) -> None:
    if change is None:
        pipe.delete(key)
    else:
        pipe.set(key, change)


def lock_environment(
    connection: Redis, target: str, reason: object, prefix: str = REASON_PREFIX
) -> Lock:
    """Take (or re-take with a new reason) the operator lock of `target`; returns the new lock."""
    value = {
        "deploy_id": None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "reason": prefix + check_reason(reason),
        "since": utcnow(),
    }
    _guarded(connection, target, "lock", json.dumps(value))
    return parse_lock(json.dumps(value))


def unlock_environment(
    connection: Redis, settings: Settings, target: str
) -> tuple[Lock, list[str]]:
    """Remove an operator lock of `target` and queue the deploys it held again.

    Returns the lock that was there (maybe "free") and the ids of the deploys queued again.
    """
    previous = _guarded(connection, target, "unlock", None)
    return previous, release_held(connection, settings, target)
