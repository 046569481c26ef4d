"""A second connection to the same Redis, for a thread that must not share the first one."""

from __future__ import annotations

from redis import ConnectionPool, Redis


def separate_connection(connection: Redis, timeout: float) -> Redis:
    """A new client with its own pool and short timeouts, to the server `connection` uses.

    A signal handler runs on the main thread between any two bytecodes, possibly while that
    thread holds the pool's lock or is half-way through a command on a pooled connection: work
    started from a handler must use a pool of its own.
    """
    pool = connection.connection_pool
    kwargs = {
        **pool.connection_kwargs,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    return Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))
