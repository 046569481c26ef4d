"""The one way to deployhook's Redis: the web app, the worker, the CLI and RQ connect here.

From the configuration, one of three:
- `redis.sentinel`: a master with replicas, found through Sentinel (redis-py's Sentinel
  support). Every new connection asks the sentinels where the master is, and a client still
  talking to a demoted master is disconnected, so after a failover each process reaches the
  new master on its next command, with no restart.
- `redis.url` (or DEPLOYHOOK_REDIS_URL): one Redis at a fixed address.
- neither: the embedded Redis that `deployhook up` runs in the state directory.
"""

from __future__ import annotations

import socket
import stat
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.sentinel import Sentinel

from config import ConfigError, Settings
from config.sentinel import SentinelSettings, address

__all__ = [
    "Connection",
    "Redis",
    "RedisConnectionError",
    "RedisError",
    "ResponseError",
    "Unreachable",
    "check_configured",
    "connect",
    "reach",
]

# What the rest of deployhook holds and passes around: only jobs/state/ speaks Redis's
# protocol, so other modules name the connection's type and its errors from here.
Connection = Redis

# Where `deployhook up` puts its embedded Redis's socket (webhook/embedded_redis.py).
EMBEDDED_SOCKET = Path("redis") / "redis.sock"
CONNECT_TIMEOUT = 2.0

NO_REDIS = (
    "redis.url: no Redis URL configured; set redis.url or DEPLOYHOOK_REDIS_URL (or "
    "redis.sentinel), or run `deployhook up`, which starts an embedded Redis (the other "
    "commands then find it in <state_dir>/redis on their own)"
)

# A master that vanished without closing its connections (a machine lost, not a process) is
# noticed after about 5 + 3 x 2 s instead of a blocked read's full timeout (RQ's dequeue waits
# up to 405 s), so a worker moves to the new master soon after the failover.
_KEEPALIVE = {
    option: value
    for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3))
    if (option := getattr(socket, name, None)) is not None
}


class Unreachable(Exception):
    """Redis did not answer; the message says where it was looked for and what to check."""


def reach(settings: Settings, *, timeout: float | None = None) -> Redis:
    """`connect`, then make sure Redis answers: Unreachable, with what to check, if not."""
    connection = connect(settings, timeout=timeout)
    try:
        connection.ping()
    except RedisError as error:
        check = "redis.sentinel" if settings.redis.sentinel is not None else "redis.url"
        raise Unreachable(
            f"cannot reach Redis ({type(error).__name__}) at {describe(settings)}: "
            f"check {check} and that Redis runs"
        ) from None
    return connection


def connect(settings: Settings, *, timeout: float | None = None) -> Redis:
    """A lazily connecting client; `timeout` bounds every reply (None: RQ's blocking reads)."""
    sentinel = settings.redis.sentinel
    if sentinel is not None:
        master: Redis = sentinels(sentinel, timeout).master_for(
            sentinel.master, redis_class=Redis, **_server_options(sentinel, timeout)
        )
        return master
    return Redis.from_url(
        redis_url(settings), socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=timeout
    )


def sentinels(sentinel: SentinelSettings, timeout: float | None = None) -> Sentinel:
    """redis-py's Sentinel client for the configured sentinels and their credentials."""
    return Sentinel(
        [address(each) for each in sentinel.sentinels],
        sentinel_kwargs=_sentinel_options(sentinel, timeout),
    )


def one_sentinel(sentinel: SentinelSettings, where: str, timeout: float = 5.0) -> Redis:
    """A client of the sentinel at `where` alone (doctor asks each one what it sees)."""
    host, port = address(where)
    return Redis(host, port, **_sentinel_options(sentinel, timeout))


def _sentinel_options(sentinel: SentinelSettings, timeout: float | None) -> dict[str, Any]:
    # Sentinels answer at once or not at all: never wait unbounded on one.
    own: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": timeout if timeout is not None else 5.0,
    }
    if sentinel.sentinel_username is not None:
        own["username"] = sentinel.sentinel_username
    if sentinel.sentinel_password is not None:
        own["password"] = sentinel.sentinel_password.reveal()
    return own


def _server_options(sentinel: SentinelSettings, timeout: float | None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": timeout,
        "socket_keepalive": True,
        "socket_keepalive_options": _KEEPALIVE,
    }
    if sentinel.username is not None:
        options["username"] = sentinel.username
    if sentinel.password is not None:
        options["password"] = sentinel.password.reveal()
    return options


def redis_url(settings: Settings) -> str:
    """The configured Redis URL, else the socket of the Redis `deployhook up` runs for this
    state directory; ConfigError with what to do when there is neither."""
    if settings.redis.url is not None:
        return settings.redis.url.reveal()
    embedded = settings.state_dir / EMBEDDED_SOCKET
    if _is_socket(embedded):
        return f"unix://{embedded.resolve()}"
    raise ConfigError("configuration", [NO_REDIS])


def check_configured(settings: Settings) -> None:
    """ConfigError, before anything starts, when no Redis is configured or running."""
    if not settings.redis.configured:
        redis_url(settings)


def describe(settings: Settings) -> str:
    """Where Redis is, for messages: never a password."""
    sentinel = settings.redis.sentinel
    if sentinel is not None:
        return f"master {sentinel.master!r} through the sentinels {', '.join(sentinel.sentinels)}"
    return "redis.url" if settings.redis.url is not None else "the embedded Redis"


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False
