"""Which services write to the database, and stopping them before a restore.

Unless `database.writers` is configured, the writers are derived from the Compose model: every
service that depends on the database service or whose environment carries its connection
settings (a URL or host naming the service, or its port). A proxy, cache or static front end
is never a writer: stopping one takes the whole site down and protects no data.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from config.model import Database
from jobs.compose.model import ComposeModel, ServiceModel, read_model
from jobs.database.offline import model_from_files
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed
from jobs.swarm import is_swarm
from jobs.swarm.commands import scale_to_zero

# Seconds a writer gets between SIGTERM and SIGKILL when its writes are being discarded anyway.
FAST_STOP_SECONDS = 1
NEVER_WRITERS = frozenset(
    {"caddy", "nginx", "traefik", "haproxy", "envoy", "varnish", "httpd", "apache",
     "redis", "memcached", "valkey", "kamal-proxy"}
)  # fmt: skip
POSTGRES_PORT = "5432"


def derive_writers(model: ComposeModel, database: Database) -> list[str]:
    """The services of `model` that write to `database` (pure; table-tested)."""
    if database.service is None:
        return sorted(name for name, service in model.services.items() if not _front_end(service))
    target = model.service(database.service)
    ports = _database_ports(target) if target is not None else {POSTGRES_PORT}
    return sorted(
        name
        for name, service in model.services.items()
        if name != database.service
        and not _front_end(service)
        and (database.service in service.depends_on or _carries(service, database.service, ports))
    )


def writers_of(ctx: DeployContext) -> list[str]:
    """The configured writers, else those derived from the checkout's Compose model."""
    database = ctx.environment.database
    if database is None:
        return []
    if database.writers is not None:
        return list(database.writers)
    try:
        return derive_writers(read_model(ctx.runner, ctx.compose), database)
    except (CommandFailed, ValueError) as error:
        # Without a model, stopping too much is safer than letting a writer run on.
        ctx.log.info(f"no Compose model ({error}): every service but the database is stopped")
        return sorted(s for s in ctx.previous_images if s != database.service)


def stop_writers(ctx: DeployContext, *, fast: bool) -> None:
    """Stop the writers; `fast` when their writes are discarded (no full graceful period).

    On a swarm each writer is scaled to 0 and waited for; the revert's stack deploy gives it
    its replicas back (a rollback's own swap does the same).
    """
    writers = writers_of(ctx)
    database = ctx.environment.database
    swarm = is_swarm(ctx.environment)
    if swarm and database is not None and database.service is None and database.writers is None:
        # At a URL the stack's database may be one of its services: "every service" would
        # scale the database itself to 0. Only the writers the operator named are stopped.
        ctx.log.info("no writers stopped: a database at a URL on a swarm needs database.writers")
        return
    if writers and swarm:
        stack = ctx.environment.compose.project
        argv = scale_to_zero([f"{stack}_{name}" for name in writers])
        ctx.runner.run(argv, timeout=ctx.environment.timeouts.swap)
    elif writers:
        timeout = FAST_STOP_SECONDS if fast else None
        argv = ctx.compose.stop(writers, timeout=timeout)
        ctx.runner.run(argv, timeout=ctx.environment.timeouts.swap)


def _front_end(service: ServiceModel) -> bool:
    if not service.image:
        return False
    name = service.image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return name in NEVER_WRITERS


def _database_ports(service: ServiceModel) -> set[str]:
    ports = {POSTGRES_PORT, *(str(port.target) for port in service.ports)}
    ports |= {str(port.published) for port in service.ports if port.published}
    ports |= {v for k, v in service.environment.items() if k.upper().endswith("PORT") and v}
    return ports


def _carries(service: ServiceModel, database_service: str, ports: set[str]) -> bool:
    """Whether an environment value names the database service as a host, or its port."""
    host = re.compile(rf"(^|[@/:,=\s]){re.escape(database_service)}($|[:/,\s?])")
    port = re.compile(rf"(^|:)({'|'.join(sorted(map(re.escape, ports)))})($|[/?,\s])")
    for key, value in service.environment.items():
        if host.search(value):
            return True
        upper = key.upper()
        about_database = "DATABASE" in upper or upper.startswith(("PG", "POSTGRES", "DB_"))
        if (about_database or value.startswith(("postgres://", "postgresql://"))) and port.search(
            value
        ):
            return True
    return False


def describe_writers(database: Database, checkout: Path, files: list[str]) -> str:
    """check-config's line: the configured writers, or those derived from the checkout's files."""
    if database.writers is not None:
        return ", ".join(database.writers) + " (configured)"
    missing = [name for name in files if not (checkout / name).is_file()]
    if missing:
        return (
            f"derived at the first restore (no {missing[0]} in {checkout} yet to derive "
            "them from; set database.writers to fix them)"
        )
    try:
        model = model_from_files(checkout, files)
    except (OSError, ValueError, yaml.YAMLError) as error:
        return f"derived at the first restore ({checkout}: {error})"
    found = derive_writers(model, database)
    return (", ".join(found) or "none") + " (derived from the Compose files)"
