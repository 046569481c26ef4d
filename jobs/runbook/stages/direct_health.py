"""The health URL read on each new container itself, while the old containers still drain.

An old container that left the service's name still answers while it drains, and a proxy
still reaches it (Caddy through a connection it keeps alive, nginx through a lookup up to 2 s
old): the health URL read through the proxy may be answered by the version that left. So
while old containers drain, the health stage also reads the URL's path on every new
container of the service behind it (`health.port`, `health.service`), at the container's own
address: only the new version can answer that, and the old ones' drain, SIGTERM and removal
need not hold the deploy's result (the deploy's lock is held until they are gone).

The worker reaches a container's address only when that container's Compose network is a
bridge on the worker's own network stack: the engine is local (no docker_host, or a unix
socket) and the network's Linux bridge (`br-` and the network id's first 12 digits, or the
bridge name the network sets) is one of this process's interfaces. A network id is random, so
finding its bridge here proves the address is that container's and not another host's.
Anywhere else (an engine over ssh:// or tcp://, a worker in a container on another network,
Docker Desktop) `reach` says why not, and the health stage waits until the old containers
are gone and reads the URL through the proxy alone, as before: slower, never less sure.
"""

from __future__ import annotations

import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from config.model import Health
from jobs.compose.images import SERVICE_LABEL, running_containers
from jobs.execution.context import DeployContext
from jobs.runbook.stages.retiring import wait_gone
from jobs.runbook.stages.service_name import in_name

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"


@dataclass(frozen=True)
class Network:
    """One of a container's networks, as the worker needs it."""

    bridge: str  # the Linux bridge's name on the engine's host ("" when not a bridge)
    address: str  # the container's IPv4 address on it ("" when none)


def reach(docker_host: str | None, interfaces: Collection[str], networks: list[Network]) -> str:
    """The address the worker reaches a container at directly; raises Unreachable with why not."""
    if docker_host and not docker_host.startswith("unix://"):
        scheme = docker_host.partition("://")[0]
        raise Unreachable(f"the engine is reached over {scheme}://, its networks are not here")
    for network in networks:
        if network.address and network.bridge and network.bridge in interfaces:
            return network.address
    bridges = ", ".join(n.bridge for n in networks if n.bridge) or "none"
    raise Unreachable(f"no bridge of its networks ({bridges}) is on the worker's network stack")


class Unreachable(Exception):
    """The worker cannot reach a container's address directly; the message says why."""


class NoneInName(Exception):
    """No new container of the service is in its name (a crash: the Docker view says more)."""


def networks_of(ctx: DeployContext, container: Any, bridges: dict[str, str]) -> list[Network]:
    """The container's networks; `bridges` caches network id -> its Linux bridge's name."""
    found = []
    networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    for _, spec in sorted(networks.items()):
        ident = str(spec.get("NetworkID") or "")
        if ident and ident not in bridges:
            network = ctx.docker.networks.get(ident).attrs
            options = network.get("Options") or {}
            bridge = options.get(BRIDGE_NAME_OPTION) or f"br-{ident[:12]}"
            bridges[ident] = bridge if network.get("Driver") == "bridge" else ""
        found.append(Network(bridges.get(ident, ""), str(spec.get("IPAddress") or "")))
    return found


def local_interfaces() -> set[str]:
    return {name for _, name in socket.if_nameindex()}


def new_containers(ctx: DeployContext, service: str) -> list[Any]:
    """The service's running containers in its name (the retiring ones are not listed)."""
    return [
        c for c in running_containers(ctx)
        if c.labels.get(SERVICE_LABEL) == service and c.status == "running" and in_name(c, service)
    ]  # fmt: skip


@dataclass
class DirectProbe:
    """Reads the health URL's path on each new container of `service`, at `port`."""

    ctx: DeployContext
    service: str
    port: int

    def __post_init__(self) -> None:
        self.bridges: dict[str, str] = {}
        self.session = requests.Session()
        self.session.trust_env = False  # an HTTP proxy from the environment cannot reach it

    def addresses(self) -> list[tuple[str, str]]:
        """(container name, address) of each new container; raises Unreachable."""
        containers = new_containers(self.ctx, self.service)
        if not containers:
            raise NoneInName(f"no container of {self.service} in its name")
        interfaces = local_interfaces()
        docker_host = self.ctx.environment.docker_host
        return [
            (c.name, reach(docker_host, interfaces, networks_of(self.ctx, c, self.bridges)))
            for c in containers
        ]

    def probe(self) -> tuple[bool, str]:
        """Whether every new container answered as expected, and what they said."""
        try:
            targets = self.addresses()
        except (Unreachable, NoneInName) as why:
            return False, str(why)
        seen = []
        ok = True
        for name, address in targets:
            good, said = read(self.session, self.ctx.environment.health, address, self.port)
            ok = ok and good
            seen.append(f"{name}: {said}")
        return ok, "; ".join(seen)

    def close(self) -> None:
        self.session.close()


def direct_url(url: str, address: str, port: int) -> str:
    """`url` with its scheme and host:port replaced by the container's http://address:port."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"http://{address}:{port}{parts.path or '/'}{query}"


def read(session: requests.Session, health: Health, address: str, port: int) -> tuple[bool, str]:
    """One GET of the health URL's path at the container; the Host the proxy would pass on."""
    url = direct_url(str(health.url), address, port)
    host = urlsplit(str(health.url)).netloc
    try:
        answer = session.get(
            url, headers={"Host": host}, timeout=min(10.0, health.timeout), allow_redirects=False
        )
    except requests.RequestException as error:
        return False, f"{url}: {type(error).__name__}"
    return judge(health, url, answer)


def judge(health: Health, url: str, answer: requests.Response) -> tuple[bool, str]:
    """Whether `answer` is what the health check expects, and how that reads."""
    body = answer.text[:200].replace("\n", " ")
    if answer.status_code != health.expect_status:
        expected = health.expect_status
        return False, f"{url} answered {answer.status_code}, expected {expected}: {body}"
    if health.expect_body is not None and health.expect_body not in answer.text:
        return False, f"{url} answered without {health.expect_body!r}: {body}"
    return True, f"{url} answered {answer.status_code}"


def while_draining(ctx: DeployContext) -> DirectProbe | None:
    """How the health stage reads the release while old containers may still drain.

    None: nothing drains any more (or it did not, after waiting here until they are gone), so
    the health URL through the proxy can only reach the new version. Else the probe to run
    beside that URL: each new container of the service behind it, read directly.
    """
    draining = sorted({r.service.name for r in ctx.retiring if r.container_ids()})
    if not draining:
        return None
    service, port = ctx.environment.health_service, ctx.environment.health.port
    names = ", ".join(draining)
    try:
        if service is None or port is None:
            raise Unreachable("health.port is not set")
        others = [name for name in draining if name != service]
        if others:
            raise Unreachable(f"{', '.join(others)} drain(s) too, and the URL may reach them")
        probe = DirectProbe(ctx, service, port)
        targets = probe.addresses()
    except (Unreachable, NoneInName) as why:
        ctx.log.info(
            f"health: waiting until the old {names} container(s) have drained and gone, then "
            f"reading the health URL through the proxy alone ({why}; docs/zero-downtime.md)"
        )
        wait_gone(ctx)
        return None
    at = ", ".join(f"{name} at {address}:{port}" for name, address in targets)
    ctx.log.info(
        f"health: old {names} container(s) draining; the health URL's path is read on each "
        f"new one directly too ({at}): the old ones cannot answer that"
    )
    return probe


def before_hooks(ctx: DeployContext) -> None:
    """An `exec` hook after health runs in a container Compose picks by its number, which may
    be an old one still draining: those are gone first."""
    draining = {r.service.name for r in ctx.retiring if r.container_ids()}
    hooks = ctx.environment.hooks.at("after_health")
    if any(hook.mode == "exec" and hook.service in draining for hook in hooks):
        ctx.log.info("health: an after_health hook execs in a draining service: drains end first")
        wait_gone(ctx)
