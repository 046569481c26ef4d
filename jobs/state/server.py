"""What the Redis server says about itself, for `deployhook doctor` (jobs/doctor/ judges it).

Asking is Redis's protocol, so it lives here: the settings `CONFIG GET` shows, where the
server listens, and whether it answers a client that brings no credentials.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from jobs.state.redistext import as_text


def config_values(connection: redis.Redis, *names: str) -> dict[str, str]:
    """CONFIG GET each name. ResponseError: the server refuses (managed Redis often does)."""
    answers: dict[str, str] = {}
    for name in names:
        for key, value in connection.config_get(name).items():
            answers[as_text(key)] = as_text(value)
    return answers


def socket_path(connection: redis.Redis) -> str | None:
    """The unix socket the connection uses, or None over TCP."""
    path = connection.connection_pool.connection_kwargs.get("path")
    return str(path) if path else None


def tcp_address(connection: redis.Redis) -> tuple[str, int]:
    """(host, port) of the server; a Sentinel-managed master is found by asking the sentinels
    (RedisError when none knows it)."""
    pool = connection.connection_pool
    if hasattr(pool, "get_master_address"):
        host, port = pool.get_master_address()
        return str(host), int(port)
    options = pool.connection_kwargs
    return str(options.get("host", "localhost")), int(options.get("port", 6379))


def answers_anonymously(connection: redis.Redis, host: str, port: int) -> bool:
    """Whether the server at host:port answers PING without credentials (False: NOAUTH).
    RedisError when it does not answer at all."""
    anonymous = redis.Redis(
        host=host,
        port=port,
        ssl=issubclass(connection.connection_pool.connection_class, redis.SSLConnection),
        socket_connect_timeout=5,
        socket_timeout=5,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(anonymous.ping())
    except (redis.AuthenticationError, redis.ResponseError):
        return False  # NOAUTH: credentials needed
    finally:
        anonymous.close()
