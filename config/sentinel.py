"""The `redis.sentinel` section: deployhook's Redis as a master with replicas, found through
Sentinel (redis-py's Sentinel support), so that losing the Redis machine loses no delivery."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from config.secrets import Secret

# host:port of one sentinel; a host name, an IPv4 address, or an IPv6 address in brackets.
SENTINEL_ADDRESS = r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):[0-9]{1,5}$"
SentinelAddress = Annotated[str, StringConstraints(pattern=SENTINEL_ADDRESS, max_length=300)]
# Sentinel's own rule for a master's name is loose; keep it to what reads well in a config.
MasterName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class SentinelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Every sentinel you run (three, on three machines, is the usual minimum for a quorum of 2).
    sentinels: list[SentinelAddress] = Field(min_length=1)
    # The name the sentinels monitor the master under (`sentinel monitor <name> ...`).
    master: MasterName = "deployhook"
    # The Redis servers' credentials (ACL user, or the `requirepass` password alone).
    username: str | None = None
    password: Secret | None = None
    # The sentinels' own, when they are run with `requirepass` / an ACL user.
    sentinel_username: str | None = None
    sentinel_password: Secret | None = None


def address(text: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`), already validated, as redis-py's Sentinel wants it."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)
