"""A delivery is acknowledged only once a replica holds it, so a failover cannot lose it.

Redis replicates asynchronously: a master killed right after it answered a write may take that
write with it, and Sentinel then promotes a replica that never saw it. `WAIT n ms` blocks until
n replicas have acknowledged every write this connection made. The transaction that queued the
delivery ran on a pooled connection that is back in the pool by now, so a write of our own
comes first on the connection that waits: the replication stream is one ordered log, and a
replica that acknowledged our write holds everything the master wrote before it, the delivery
included. That covers a duplicate's answer too, whose marker another request wrote.

Sentinel promotes the replica with the most data (among those of equal priority), so with
every replica at the default priority an acknowledged delivery survives the master's loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from redis import Redis
from redis.exceptions import RedisError, ResponseError

from config.sentinel import SentinelSettings
from jobs.state import keys
from jobs.state.connection import one_sentinel


class NotReplicated(Exception):
    """Fewer replicas than required acknowledged the write in time; the message says so."""


def wait_for_replicas(connection: Redis, replicas: int, timeout: float) -> None:
    """Return once `replicas` replicas hold every write the master has made so far.

    NotReplicated when they do not within `timeout` seconds; RedisError when the master
    cannot be asked. Zero replicas returns at once without a round trip (a single Redis).
    """
    if replicas <= 0:
        return
    with connection.pipeline(transaction=False) as pipe:
        pipe.incr(keys.REPLICATION_MARK)
        pipe.wait(replicas, max(1, round(timeout * 1000)))
        _, acknowledged = pipe.execute()
    if int(acknowledged) < replicas:
        raise NotReplicated(
            f"{acknowledged} of {replicas} replica(s) acknowledged within {timeout:g} s"
        )


@dataclass(frozen=True)
class SentinelAnswer:
    """What one sentinel says about the master (doctor judges it; see doctor/replication.py)."""

    where: str
    problem: str | None = None  # why it could not be asked
    master: str | None = None  # host:port it names as the master; None: it does not know it
    flags: str = ""
    other_sentinels: int = 0
    quorum: int = 0


def ask_sentinel(sentinel: SentinelSettings, where: str) -> SentinelAnswer:
    """Ask the sentinel at `where` where the configured master is and how it sees it."""
    client = one_sentinel(sentinel, where)
    try:
        state = cast(dict[str, Any], client.sentinel_master(sentinel.master))
    except ResponseError:  # "No such master with that name"
        return SentinelAnswer(where)
    except RedisError as error:
        return SentinelAnswer(where, problem=type(error).__name__)
    finally:
        client.close()
    return SentinelAnswer(
        where,
        master=f"{state['ip']}:{state['port']}",
        flags=str(state.get("flags", "")),
        other_sentinels=int(state.get("num-other-sentinels", 0)),
        quorum=int(state.get("quorum", 0)),
    )


def online_replicas(connection: Redis) -> list[str]:
    """The replicas connected to the master and streaming (`host:port lag N`), from INFO."""
    info = connection.info("replication")
    found = []
    for name, value in sorted(info.items()):
        if name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online":
            found.append(f"{value.get('ip')}:{value.get('port')} lag {value.get('lag', '?')} s")
    return found
