"""Keep a running container's address across its reconnect (service_name.py).

A container moves in or out of its service's DNS name by `docker network disconnect` then
`connect`; the connections on it survive only when the same address comes back. Docker's
allocator hands out the lowest free address of the network, not the one just released, so any
free address below it (a container removed since it started: an orphan, an old replica, a
scaled-down service) is what it would get. Before such a reconnect every free address below its
own is taken by a stand-in: a container of nothing but a static busybox that sleeps, on that
network only, with no capability, no secret, no port and no name in the DNS. With none free
below, its own address is the lowest free one when it reconnects. The stand-ins go right after
(`docker kill`; they were started with `--rm`).

`--ip` would say which address outright, but Docker accepts it only on a network with a
configured subnet, which Compose's default network has not. The caller holds
ctx.containers_lock, which every start and stop of the swap holds too, so no container of the
deploy takes or frees an address in between; another process's container on the same network
still can, and the reconnect's check then says so in the deploy log.
"""

from __future__ import annotations

import hashlib
import ipaddress
import shutil
import struct
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker.errors

from jobs.commands.docker import import_image, kill_containers, run_stand_in
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.swap_commands import run

STAND_IN_LABEL = "deployhook.stand-in"
STAND_IN_REPOSITORY = "deployhook-stand-in"
# More than this many free addresses below one container means a network nobody tidies: the
# reconnect goes ahead without stand-ins and the deploy log says whether the address moved.
MOST_STAND_INS = 32
RELEASE_SECONDS = 10.0  # for killed stand-ins to leave the network
PT_INTERP = 3  # elf.h: the program header naming a dynamic binary's loader


def free_below(network: dict[str, Any], address: str) -> list[str]:
    """The free IPv4 addresses of `network` (its `docker network inspect`) below `address`."""
    wanted = ipaddress.IPv4Address(address)
    for pool in (network.get("IPAM") or {}).get("Config") or []:
        try:
            subnet = ipaddress.IPv4Network(pool.get("Subnet") or "", strict=False)
        except ValueError:
            continue  # an IPv6 pool, or none
        if wanted not in subnet:
            continue
        taken = {str(subnet.network_address + 1)} if not pool.get("Gateway") else set()
        taken |= {pool.get("Gateway") or "", *(pool.get("AuxiliaryAddresses") or {}).values()}
        for endpoint in (network.get("Containers") or {}).values():
            taken.add((endpoint.get("IPv4Address") or "").partition("/")[0])
        # Only the addresses below it: a /16 holds 65,534, read at every reconnect.
        first = int(subnet.network_address) + 1
        below = (str(ipaddress.IPv4Address(n)) for n in range(first, int(wanted)))
        return [host for host in below if host not in taken]
    return []


@contextmanager
def held_below(ctx: DeployContext, network: str, address: str, stage: str) -> Iterator[None]:
    """Every free address of `network` below `address` taken by a stand-in, for the block.
    Best effort: stand-ins that cannot be had leave the reconnect as it was, and say why."""
    project = ctx.environment.compose.project
    try:
        _hold(ctx, network, address, project, stage)
        yield
    finally:
        release(ctx, network, project, stage)


def _hold(ctx: DeployContext, network: str, address: str, project: str, stage: str) -> None:
    try:
        free = free_below(ctx.docker.networks.get(network).attrs, address)
        if not free:
            return
        image = stand_in_image(ctx, stage) if len(free) <= MOST_STAND_INS else None
        if image is None:
            why = "too many" if len(free) > MOST_STAND_INS else "no stand-in image"
            raise StandInTrouble(f"{len(free)} free, {why}")
        argv = run_stand_in(network, image, project, STAND_IN_LABEL)
        # Side by side: each takes the lowest free address as it starts, whichever it is.
        with ThreadPoolExecutor(max_workers=min(len(free), 8)) as pool:
            list(pool.map(lambda _: run(ctx, argv, stage), free))
        left = free_below(ctx.docker.networks.get(network).attrs, address)
        ctx.log.info(
            f"{network}: {len(free)} free address(es) below {address} held by stand-ins"
            + (f"; expected none free below it, got {', '.join(left)}" if left else "")
        )
    except (StandInTrouble, StageFailed, docker.errors.DockerException, OSError) as error:
        ctx.log.info(
            f"{network}: the free addresses below {address} are not held ({error}): "
            "the container may come back on another one"
        )


class StandInTrouble(Exception):
    """Stand-ins that cannot be had, or will not go."""


def release(ctx: DeployContext, network: str, project: str, stage: str) -> None:
    """Every stand-in of the project goes (a deploy that died holding some leaves them), and
    is off `network` before this returns: `docker kill` only sends the signal, and the next
    reconnect must not count an address that is about to be freed as taken. A failure is
    logged, never raised: the reconnect is done, and the next release kills what is left."""
    try:
        labels = [f"{STAND_IN_LABEL}={project}"]
        found = ctx.docker.containers.list(filters={"label": labels}, ignore_removed=True)
        if not found:
            return
        ids = {container.id for container in found}
        run(ctx, kill_containers(sorted(ids)), stage)
        deadline = time.monotonic() + RELEASE_SECONDS
        while on := ids & set(ctx.docker.networks.get(network).attrs.get("Containers") or {}):
            if time.monotonic() > deadline:
                raise StandInTrouble(f"{len(on)} still on it after {RELEASE_SECONDS:.0f}s")
            time.sleep(0.05)
    except (StandInTrouble, StageFailed, docker.errors.DockerException) as error:
        ctx.log.info(f"{network}: expected the stand-ins gone: {error}")


NO_STAND_IN = (
    "no static busybox on PATH: a container that reconnects while a lower address of its "
    "network is free comes back on that one, cutting its connections; install the Debian "
    "package busybox-static (docs/zero-downtime.md)"
)


def stand_in_binary() -> Path | None:
    """The host's busybox when it is static (runs in an image of nothing else), else None."""
    found = shutil.which("busybox")
    if found is None:
        return None
    binary = Path(found).resolve()
    try:
        return None if _dynamic(binary.read_bytes()[:4096]) else binary
    except (OSError, struct.error):
        return None


def _dynamic(head: bytes) -> bool:
    """Does this ELF name a program interpreter (PT_INTERP), i.e. need a libc beside it?"""
    if head[:4] != b"\x7fELF":
        return True
    order = "<" if head[5] == 1 else ">"
    if head[4] == 2:  # 64-bit
        (table,) = struct.unpack_from(order + "Q", head, 32)
        size, count = struct.unpack_from(order + "HH", head, 54)
    else:
        (table,) = struct.unpack_from(order + "I", head, 28)
        size, count = struct.unpack_from(order + "HH", head, 42)
    kinds = [struct.unpack_from(order + "I", head, table + n * size)[0] for n in range(count)]
    return PT_INTERP in kinds


def stand_in_image(ctx: DeployContext, stage: str) -> str | None:
    """The stand-ins' image, made on the engine from the host's static busybox the first time
    (`docker image import`: no registry), named after the binary's digest; None without one."""
    binary = stand_in_binary()
    if binary is None:
        ctx.log.info(NO_STAND_IN)
        return None
    tag = f"{STAND_IN_REPOSITORY}:{hashlib.sha256(binary.read_bytes()).hexdigest()[:12]}"
    try:
        ctx.docker.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="deployhook-stand-in-") as scratch:
        archive = Path(scratch) / "stand-in.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(binary, arcname="busybox")
        run(ctx, import_image(archive, tag, ["/busybox", "sleep", "2147483647"]), stage)
    return tag
