"""The database as a service of the stack: find its task, and run its commands where it runs.

The choice (docs/swarm.md): deployhook finds the database's one running task through the
manager (its node and its container) and runs each command with `docker exec` on that node's
own engine, exactly as `compose exec` does on one host. A one-off task on the database's network
was the other way, and it cannot carry the data: a dump is binary and leaves a task only through
its log (text, lines, interleaved), and a restore needs its stdin, which a task never has. So a
dump streams from the container to the worker's disk and a restore streams back, byte for byte.

The node's engine: the manager's own when the task runs there, else the one `swarm.nodes` names
for that node (by ID, or by hostname when no other node shares it). Nothing is guessed: a node
without an engine fails the command's stage with the line to add.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from config import Environment
from jobs.execution.context import DeployContext
from jobs.execution.docker_sdk import docker_client
from jobs.execution.runner import Runner
from jobs.failures.errors import StageFailed
from jobs.swarm import commands
from jobs.swarm.tasks import node_label

FIND_SECONDS = 60.0  # a task being restarted by Swarm gets this long to run again
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class DatabaseTask:
    """Where the database runs: its node (ID and hostname) and its container there."""

    node_id: str
    hostname: str
    container: str
    label: str  # `hostname (id)`, as the reports name nodes


@dataclass(frozen=True)
class TaskExec:
    """`exec` like Compose's, into the database task's container on its node's engine."""

    host: str | None  # None: the manager's own engine (the runner's DOCKER_HOST)
    container: str

    def exec(self, service: str, command: list[str], env: Sequence[str] = ()) -> list[str]:
        return commands.exec_in(self.host, self.container, command, env)


def engine_for(
    task: DatabaseTask,
    manager_id: str,
    manager_host: str | None,
    nodes: Mapping[str, str],
    hostnames: Sequence[str],
) -> str | None:
    """The engine that reaches `task`'s node (None: the default engine); pure, table-tested.

    `hostnames`: every node's hostname, so that a name two nodes share is not taken for either.
    """
    if task.node_id == manager_id:
        return manager_host
    if task.node_id in nodes:
        return nodes[task.node_id]
    if task.hostname in nodes and list(hostnames).count(task.hostname) == 1:
        return nodes[task.hostname]
    shared = list(hostnames).count(task.hostname) > 1
    key = task.node_id if shared else task.hostname
    why = (
        f" (its hostname is shared by {list(hostnames).count(task.hostname)} nodes)"
        if shared
        else ""
    )
    raise StageFailed(
        "database",
        f"the database task runs on node {task.label}, and swarm.nodes names no engine for "
        f"it{why}; add swarm.nodes: {{{key}: ssh://USER@HOST}} (or pin the database to the "
        "manager's node)",
    )


def find_task(client: Any, stack: str, service: str, wait: float = FIND_SECONDS) -> DatabaseTask:
    """The one running task of `<stack>_<service>`, waiting up to `wait` s for one to run."""
    name = f"{stack}_{service}"
    deadline = time.monotonic() + wait
    seen = "no such service in the stack"
    while True:
        found = [s for s in client.services.list(filters={"name": name}) if _named(s, name)]
        if found:
            tasks = client.api.tasks(filters={"service": found[0].id, "desired-state": "running"})
            running = [t for t in tasks if (t.get("Status") or {}).get("State") == "running"]
            if len(running) == 1:
                return _task(client, running[0])
            states = sorted(str((t.get("Status") or {}).get("State")) for t in tasks)
            seen = f"{len(running)} running tasks (states: {', '.join(states) or 'none'})"
        if time.monotonic() >= deadline:
            raise StageFailed(
                "database",
                f"expected one running task of the database service {name}, got {seen}",
            )
        time.sleep(POLL_SECONDS)


def task_exec(client: Any, environment: Environment, wait: float = FIND_SECONDS) -> TaskExec:
    """Where the environment's database commands run now (found anew for every command)."""
    database = environment.database
    if database is None or database.service is None:
        raise ValueError("expected database.service, got none")  # callers check: a bug guard
    task = find_task(client, environment.compose.project, database.service, wait)
    manager_id = str((client.info().get("Swarm") or {}).get("NodeID") or "")
    hostnames = [
        str((node.attrs.get("Description") or {}).get("Hostname") or "")
        for node in client.nodes.list()
    ]
    nodes = environment.swarm_settings.nodes
    host = engine_for(task, manager_id, environment.docker_host, nodes, hostnames)
    return TaskExec(None if host == environment.docker_host else host, task.container)


def _named(service: Any, name: str) -> bool:
    return bool((service.attrs.get("Spec") or {}).get("Name") == name)


def _task(client: Any, task: dict[str, Any]) -> DatabaseTask:
    node_id = str(task.get("NodeID") or "")
    attrs = client.nodes.get(node_id).attrs
    container = str(((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID"))
    return DatabaseTask(
        node_id=node_id,
        hostname=str((attrs.get("Description") or {}).get("Hostname") or ""),
        container=container,
        label=node_label(attrs),
    )


@dataclass
class NodeEngine:
    """A runner and an SDK client for the engine of the database's node."""

    runner: Runner
    client: Any
    own_client: bool  # made here (closed by `close`), not the deploy's own

    def close(self) -> None:
        if self.own_client:
            self.client.close()


def database_engine(ctx: DeployContext) -> NodeEngine:
    """The engine the database runs on: the deploy's own, or on a swarm its task's node's.

    The rehearsal's throwaways run there: the database's image is surely on that node (it runs
    it), and the worker's own engine may not have it at all.
    """
    database = ctx.environment.database
    swarm = ctx.environment.engine == "swarm"
    if not swarm or database is None or database.service is None:
        return NodeEngine(ctx.runner, ctx.docker, own_client=False)
    host = task_exec(ctx.docker, ctx.environment).host
    if host is None:
        return NodeEngine(ctx.runner, ctx.docker, own_client=False)
    environ = {**ctx.runner.environ, "DOCKER_HOST": host}
    client = docker_client(ctx.environment.model_copy(update={"docker_host": host}))
    return NodeEngine(Runner(ctx.log, environ, ctx.runner.fence), client, own_client=True)
