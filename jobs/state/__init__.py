"""Deploy state in one room: every Redis key, record, index, delivery, last-good and lock.

Everything deployhook keeps in Redis is named in `keys` and read or written by the modules
here; the rest of the code (pipeline, status pages, metrics, CLI) goes through them. Only
this package imports `redis` (tests/state/test_redis_room.py holds everyone to that): the
others take the connection's type and its errors from here.
"""

from jobs.state.connection import Connection, RedisError, ResponseError
from jobs.state.locks import EnvironmentLock, LockOwner
from jobs.state.records import Deploy, DeployStore

__all__ = [
    "Connection",
    "Deploy",
    "DeployStore",
    "EnvironmentLock",
    "LockOwner",
    "RedisError",
    "ResponseError",
]
