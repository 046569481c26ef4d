"""Take a container out of its service's DNS name, or put it in, keeping its address.

Compose gives every container of a service the service's name (and the service's own
`aliases:`) as network aliases, so Docker's DNS answers `api` with each of them from the moment
it starts. Docker has no call that changes an endpoint's aliases; `docker network disconnect`
then `connect --alias ...` does. On a running container that is a short cut of its interface
(about 0.1 s): connections through it stall and TCP carries them on once the interface is back
with the same address (measured on Docker 20.10: a 5 s request in flight across the cut
completes). Docker gives a connecting container the lowest free address of the network, so
every free one below it is held by a stand-in for the reconnect (address_holds.py); the swap
checks that the address came back, and says so in the deploy log when it did not.

A container's own name and short id stay: they are its own, no proxy reaches a service by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker.errors

from jobs.commands.docker import connect_network, disconnect_network
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.runbook.stages.address_holds import held_below


@dataclass(frozen=True)
class Endpoint:
    network: str
    aliases: tuple[str, ...]
    address: str  # empty for a container that has not started


def endpoints(container: Any) -> list[Endpoint]:
    networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    return [
        Endpoint(name, tuple(spec.get("Aliases") or ()), spec.get("IPAddress") or "")
        for name, spec in sorted(networks.items())
    ]


def shared_aliases(container: Any, aliases: tuple[str, ...]) -> list[str]:
    """The aliases other containers of the service answer to as well: the service's name."""
    own = {container.name.lstrip("/"), container.id[:12]}
    return [alias for alias in aliases if alias not in own]


def in_name(container: Any, service: str) -> bool:
    """Does Docker's DNS answer `service` with this container (on any of its networks)?"""
    return any(service in endpoint.aliases for endpoint in endpoints(container))


def leave_name(ctx: DeployContext, container: Any, stage: str) -> dict[str, tuple[str, ...]]:
    """Out of the service's name on every network; returns the aliases it had, per network."""
    had: dict[str, tuple[str, ...]] = {}
    _reload(container, stage)  # its addresses now: those kept (address_holds.py)
    for endpoint in endpoints(container):
        shared = shared_aliases(container, endpoint.aliases)
        if shared:
            had[endpoint.network] = endpoint.aliases
            own = [a for a in endpoint.aliases if a not in shared and a != container.id[:12]]
            _reconnect(ctx, container, endpoint, own, stage)
    return had


def join_name(
    ctx: DeployContext, container: Any, aliases: dict[str, tuple[str, ...]], stage: str
) -> None:
    """Into the service's name again: each network's aliases as `leave_name` found them."""
    _reload(container, stage)
    for endpoint in endpoints(container):
        if endpoint.network in aliases:
            wanted = [a for a in aliases[endpoint.network] if a != container.id[:12]]
            _reconnect(ctx, container, endpoint, wanted, stage)


def _reconnect(
    ctx: DeployContext, container: Any, endpoint: Endpoint, aliases: list[str], stage: str
) -> None:
    if not endpoint.address:  # never started: it has no address yet, nor connections
        _move(ctx, container, endpoint, aliases, stage)
        return
    # No start or stop of the swap takes or frees an address meanwhile (address_holds.py).
    with ctx.containers_lock, held_below(ctx, endpoint.network, endpoint.address, stage):
        _move(ctx, container, endpoint, aliases, stage)
    container.reload()
    now = {e.network: e.address for e in endpoints(container)}.get(endpoint.network, "")
    if now != endpoint.address:
        ctx.log.info(
            f"{container.name}: expected its address {endpoint.address} on {endpoint.network} "
            f"back, got {now or 'none'}: the connections it had there were cut"
        )


def _move(
    ctx: DeployContext, container: Any, endpoint: Endpoint, aliases: list[str], stage: str
) -> None:
    timeout = ctx.environment.timeouts.swap
    try:
        ctx.runner.run(disconnect_network(endpoint.network, container.id), timeout=timeout)
        ctx.runner.run(connect_network(endpoint.network, container.id, aliases), timeout=timeout)
    except CommandFailed as error:
        raise StageFailed(stage, str(error), command=error) from None


def _reload(container: Any, stage: str) -> None:
    try:
        container.reload()
    except docker.errors.NotFound:
        raise StageFailed(stage, f"expected container {container.id[:12]}, got none") from None
