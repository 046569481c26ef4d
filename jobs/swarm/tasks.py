"""What a stack runs, read from the manager: its services, their update status and their tasks.

Reads only, through the Docker SDK (the manager's API). `node_label` names a node the way the
reports do, `hostname (id)`: a swarm's hostnames need not be unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STACK_LABEL = "com.docker.stack.namespace"


@dataclass(frozen=True)
class TaskState:
    node: str
    state: str  # new, pending, ..., running, complete, failed, shutdown, rejected
    desired: str
    image: str
    error: str = ""


@dataclass(frozen=True)
class ServiceState:
    name: str  # the Compose service name, without the stack's prefix
    image: str  # what its spec runs now
    replicas: int | None  # None: global or a job
    update_state: str | None
    update_started: str | None
    update_message: str
    tasks: tuple[TaskState, ...]


def stack_services(client: Any, stack: str) -> list[Any]:
    return list(client.services.list(filters={"label": f"{STACK_LABEL}={stack}"}))


def node_labels(client: Any) -> dict[str, str]:
    return {str(node.id): node_label(node.attrs) for node in client.nodes.list()}


def node_label(attrs: dict[str, Any]) -> str:
    hostname = (attrs.get("Description") or {}).get("Hostname") or "?"
    return f"{hostname} ({str(attrs.get('ID', ''))[:10]})"


def service_images(client: Any, stack: str) -> dict[str, str]:
    """service -> the image its spec names (`repo[:tag]@sha256:...` once Swarm resolved it)."""
    return {
        short_name(service.attrs, stack): _spec_image(service.attrs)
        for service in stack_services(client, stack)
    }


def update_marks(client: Any, stack: str) -> dict[str, str | None]:
    """service -> when its last update started: a later one is this deploy's."""
    return {
        short_name(service.attrs, stack): (service.attrs.get("UpdateStatus") or {}).get("StartedAt")
        for service in stack_services(client, stack)
    }


def read_states(client: Any, stack: str) -> list[ServiceState]:
    nodes = node_labels(client)
    states = []
    for service in stack_services(client, stack):
        attrs = service.attrs
        update = attrs.get("UpdateStatus") or {}
        mode = (attrs.get("Spec") or {}).get("Mode") or {}
        replicated = mode.get("Replicated")
        tasks = client.api.tasks(filters={"service": attrs["ID"]})
        states.append(
            ServiceState(
                name=short_name(attrs, stack),
                image=_spec_image(attrs),
                replicas=int(replicated.get("Replicas", 1)) if replicated is not None else None,
                update_state=update.get("State"),
                update_started=update.get("StartedAt"),
                update_message=str(update.get("Message") or ""),
                tasks=tuple(_task(task, nodes) for task in tasks),
            )
        )
    return sorted(states, key=lambda state: state.name)


def placement(states: list[ServiceState]) -> str:
    """`web: 2 running on vm (ab12), vm (cd34); db: ...`, for the log and the reports."""
    parts = []
    for state in states:
        running = [t.node for t in state.tasks if t.desired == "running" and t.state == "running"]
        parts.append(f"{state.name}: {len(running)} running on {', '.join(running) or 'no node'}")
    return "; ".join(parts)


def short_name(attrs: dict[str, Any], stack: str) -> str:
    name = str((attrs.get("Spec") or {}).get("Name", ""))
    return name.removeprefix(f"{stack}_")


def _spec_image(attrs: dict[str, Any]) -> str:
    template = (attrs.get("Spec") or {}).get("TaskTemplate") or {}
    return str((template.get("ContainerSpec") or {}).get("Image", ""))


def _task(task: dict[str, Any], nodes: dict[str, str]) -> TaskState:
    status = task.get("Status") or {}
    spec = (task.get("Spec") or {}).get("ContainerSpec") or {}
    node = str(task.get("NodeID") or "")
    return TaskState(
        node=nodes.get(node, node[:10] or "unscheduled"),
        state=str(status.get("State", "")),
        desired=str(task.get("DesiredState", "")),
        image=str(spec.get("Image", "")),
        error=str(status.get("Err") or ""),
    )
