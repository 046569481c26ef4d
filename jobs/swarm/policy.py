"""Which stacks deployhook refuses to deploy on a swarm, before anything changes.

The policy (docs/swarm.md): deployhook sets nothing behind the user's back. Swarm's defaults
stop the old task before the new one starts (`order: stop-first`) and take a task as ready as
soon as its process runs; so a served service (one listed in `zero_downtime`) must say
`order: start-first` and carry a healthcheck, or the stack is refused, in `check-config` and in
the snapshot stage, with the line to add. `refusals` is pure (table-tested).

A healthcheck means one in the Compose files here. Swarm would run an image's HEALTHCHECK too,
but on a swarm the built images sit on the worker's engine and pulled ones only in the
registry, so nothing reads them before the stack deploy (a Compose stack checks its images
after the build: jobs/runbook/stages/new_images.py).
"""

from __future__ import annotations

from jobs.swarm.model import Stack, StackService

START_FIRST = "start-first"


def refusals(stack: Stack, served: list[str], database: str | None = None) -> list[str]:
    """One message per reason the stack cannot be deployed safely on a swarm."""
    problems = []
    for name in served:
        service = stack.service(name)
        if service is None:
            known = ", ".join(sorted(stack.services)) or "none"
            problems.append(f"zero_downtime: service {name} is not in the Compose files ({known})")
            continue
        problems += [f"zero_downtime: service {name} {reason}" for reason in _served(service)]
    for service in sorted(stack.services.values(), key=lambda s: s.name):
        if service.builds and not names_a_registry(service.image):
            problems.append(
                f"service {service.name} is built but its image ({service.image or 'none'}) "
                "names no registry: the nodes pull what deployhook pushes; set "
                "image: REGISTRY/REPOSITORY (e.g. registry.example.com:5000/crm-api)"
            )
    if database is not None:
        problems += database_refusals(stack, database)
    return problems


def _served(service: StackService) -> list[str]:
    reasons = []
    if not service.has_healthcheck:
        reasons.append(
            "has no healthcheck: Swarm would send traffic to a task that is not ready yet; "
            "add a `healthcheck:` to the service"
        )
    if service.update_order != START_FIRST:
        reasons.append(
            f"updates with order: {service.update_order} (Swarm's default): the old task stops "
            "before the new one serves; add deploy.update_config.order: start-first"
        )
    if service.failure_action == "continue":
        reasons.append(
            "updates with failure_action: continue: a failed update would carry on half-way; "
            "use rollback or pause (deployhook reverts either way)"
        )
    if service.host_ports:
        ports = ", ".join(str(port) for port in service.host_ports)
        reasons.append(
            f"publishes port {ports} in host mode: a new task cannot bind it beside the old "
            "one on the same node; publish only the proxy and let it reach the service by name"
        )
    return reasons


def database_refusals(stack: Stack, name: str) -> list[str]:
    """The database's data lives on one node: its service must be pinned there, volume or not
    (an image's own VOLUME is a new, empty volume on whichever node Swarm picks)."""
    service = stack.service(name)
    if service is None:
        return [f"database.service {name} is not in the Compose files"]
    problems = []
    if not is_pinned(service):
        where = f"a volume ({', '.join(service.volumes)})" if service.volumes else "its container"
        problems.append(
            f"database service {name} keeps its data in {where} that lives on one node, yet "
            "no placement constraint pins it there; add "
            'deploy.placement.constraints: ["node.hostname == DBHOST"] (or a node label)'
        )
    if service.update_order == START_FIRST:
        problems.append(
            f"database service {name} updates with order: start-first: two PostgreSQL servers "
            "would share one data directory; use stop-first (the default) for the database"
        )
    return problems


PINS = ("node.hostname", "node.id", "node.labels.")


def is_pinned(service: StackService) -> bool:
    """A placement constraint that names one node (or a label a node carries) with `==`."""
    return any(c.replace(" ", "").startswith(PINS) and "==" in c for c in service.constraints)


def names_a_registry(image: str | None) -> bool:
    """`host[:port]/repo...`: the first part looks like a registry host, as Docker reads it."""
    if not image or "/" not in image:
        return False
    first = image.split("/", 1)[0]
    return "." in first or ":" in first or first == "localhost"
