"""argv for the migration rehearsal's throwaway containers (docker, never compose).

Nothing here may reach production: no volume (data on tmpfs), no published port, no network but
the throwaway database's own loopback (`--network none`), which the migration container joins
(`--network container:<db>`). Read-only bind mounts (config, init scripts) are kept; every other
mount becomes an empty tmpfs, so nothing the rehearsal writes lands on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LABEL = "deployhook.rehearsal"  # value: the deploy id; finds leftovers of a dead worker


@dataclass(frozen=True)
class Mount:
    target: str
    source: str | None = None  # a read-only bind mount's host path; None: an empty tmpfs


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    deploy_id: str
    env_file: Path
    network: str  # "none", or "container:<name>" to share the throwaway database's loopback
    command: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    add_hosts: tuple[str, ...] = ()  # "name:127.0.0.1"
    entrypoint: str | None = None  # None: the image's; "": none (as `compose exec` runs)
    user: str | None = None
    workdir: str | None = None
    detach: bool = False


def database_name(deploy_id: str) -> str:
    return f"deployhook-rehearse-{deploy_id}"


def migration_name(deploy_id: str) -> str:
    return f"deployhook-rehearse-{deploy_id}-migrate"


def run(container: Container) -> list[str]:
    """`docker run` argv for a throwaway container.

    A detached one (the database) keeps its log after it exits (no --rm), so a database that
    fails to start can say why; `remove` takes it away in every case. A foreground one (the
    migration) streams its output into the deploy log and removes itself.
    """
    argv = ["docker", "run", "--detach"] if container.detach else ["docker", "run", "--rm"]
    argv += ["--name", container.name, "--label", f"{LABEL}={container.deploy_id}"]
    argv += ["--network", container.network]
    for host in container.add_hosts:
        argv += ["--add-host", host]
    argv += ["--env-file", str(container.env_file)]
    if container.user:
        argv += ["--user", container.user]
    if container.workdir:
        argv += ["--workdir", container.workdir]
    if container.entrypoint is not None:
        argv += ["--entrypoint", container.entrypoint]
    for mount in container.mounts:
        if mount.source is None:
            argv += ["--tmpfs", mount.target]
        else:
            spec = f"type=bind,source={mount.source},target={mount.target},readonly"
            argv += ["--mount", spec]
    return [*argv, container.image, *container.command]


def is_ready(name: str, user: str, database: str) -> list[str]:
    """Over TCP on loopback: an image's init-time server (socket only) does not count as ready."""
    return [
        "docker", "exec", name,
        "pg_isready", "--quiet", "--host", "127.0.0.1", "--username", user, "--dbname", database,
    ]  # fmt: skip


def restore(name: str, user: str, database: str) -> list[str]:
    """The backup on stdin into the fresh database, all or nothing."""
    return [
        "docker", "exec", "--interactive", name,
        "pg_restore", "--no-password", "--single-transaction", "--exit-on-error",
        "--username", user, "--dbname", database,
    ]  # fmt: skip


def logs(name: str, lines: int = 30) -> list[str]:
    return ["docker", "logs", "--tail", str(lines), name]


def remove(name: str) -> list[str]:
    """Kill and remove a throwaway container; no `-v`: none has a volume (all tmpfs)."""
    return ["docker", "rm", "--force", name]
