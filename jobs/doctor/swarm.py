"""The doctor on a swarm: the manager, the nodes, the registry, the update settings, placement.

Reads only (the manager's API and the stack's files). The registry check proves what can be
proved without starting anything: the manager resolves, in the registry, the digest each built
service runs, and each node running a task has pulled from it; a task that failed to pull
fails the check, with its node. judge_manager, judge_nodes and judge_placement are pure
(table-tested).
"""

from __future__ import annotations

from typing import Any

from config import Environment
from jobs.commands.compose import Compose
from jobs.commands.postgres import ServiceExec
from jobs.doctor.check import Finding, fail, ok, warn
from jobs.doctor.probe import Prober
from jobs.execution.docker_sdk import docker_client
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.swarm.database import task_exec
from jobs.swarm.model import Stack, read_stack
from jobs.swarm.policy import is_pinned, refusals
from jobs.swarm.tasks import node_label, stack_services

PULL_ERRORS = ("pull", "manifest", "registry", "No such image")


def check_swarm(
    target: str, environment: Environment, compose: Compose, prober: Prober
) -> list[Finding]:
    try:
        stack = read_stack(prober.runner, compose)
    except CommandFailed as error:
        return [fail(target, "swarm", f"the stack's files do not parse: {error}", "fix them")]
    try:
        client = docker_client(environment)
    except StageFailed as error:  # the engine did not answer, or refused this client
        return [fail(target, "swarm", error.failure.summary, MANAGER_FIX)]
    try:
        info = client.info()
        manager = judge_manager(info.get("Swarm") or {})
        if manager.status == "fail":
            return [Finding(target, manager.check, manager.status, manager.detail, manager.fix)]
        nodes = [node.attrs for node in client.nodes.list()]
        services = [s.attrs for s in stack_services(client, environment.compose.project)]
        tasks = [t for s in services for t in client.api.tasks(filters={"service": s["ID"]})]
        found = [
            _target(target, manager),
            _target(target, judge_nodes(nodes)),
            _target(target, judge_registry(client, _built_images(stack, services), nodes, tasks)),
            _target(target, judge_update(stack, environment)),
            _target(target, judge_placement(stack, database_service(environment))),
        ]
    except Exception as error:  # noqa: BLE001 - the doctor reports, it never raises
        return [fail(target, "swarm", f"the manager did not answer: {error}", MANAGER_FIX)]
    finally:
        client.close()
    return found


def database_exec_for(
    target: str, environment: Environment, compose: Compose
) -> tuple[ServiceExec, Finding | None]:
    """Where the database check's commands run: Compose's exec, or on a swarm the database
    task's container on its node; a finding instead when that task cannot be found."""
    if environment.engine != "swarm" or database_service(environment) is None:
        return compose, None
    try:
        client = docker_client(environment)
    except StageFailed as error:  # the engine did not answer, or refused this client
        return compose, fail(target, "database", error.failure.summary, MANAGER_FIX)
    try:
        return task_exec(client, environment, wait=0), None
    except StageFailed as error:
        fix = "deploy the stack, and name the database node's engine in swarm.nodes"
        return compose, fail(target, "database", error.failure.summary, fix)
    except Exception as error:  # noqa: BLE001 - the doctor reports, it never raises
        return compose, fail(
            target, "database", f"the manager did not answer: {error}", MANAGER_FIX
        )
    finally:
        client.close()


MANAGER_FIX = "point docker_host at a manager (`docker node ls` must work there)"


def _target(target: str, finding: Finding) -> Finding:
    return Finding(target, finding.check, finding.status, finding.detail, finding.fix)


def judge_manager(swarm: dict[str, Any]) -> Finding:
    state = swarm.get("LocalNodeState")
    if state != "active":
        return fail("", "manager", f"this engine is not in a swarm (state {state})", MANAGER_FIX)
    if not swarm.get("ControlAvailable"):
        return fail("", "manager", "this engine is a worker node, not a manager", MANAGER_FIX)
    managers = swarm.get("Managers", 0)
    detail = f"a manager answers ({swarm.get('Nodes', 0)} nodes, {managers} managers)"
    if managers in (1, 2):
        fix = "run three managers for a quorum that survives losing one"
        return warn("", "manager", detail + ": losing one manager stops deploys", fix)
    return ok("", "manager", detail)


def judge_nodes(nodes: list[dict[str, Any]]) -> Finding:
    bad = []
    for node in nodes:
        state = (node.get("Status") or {}).get("State")
        availability = (node.get("Spec") or {}).get("Availability")
        if state != "ready" or availability != "active":
            bad.append(f"{node_label(node)} {state}/{availability}")
    if bad:
        detail = f"{len(bad)} of {len(nodes)} nodes not ready: {', '.join(bad)}"
        return warn(
            "", "nodes", detail, "`docker node ls`; bring them back or drain them on purpose"
        )
    return ok("", "nodes", f"all {len(nodes)} nodes ready and active")


def _built_images(stack: Stack, services: list[dict[str, Any]]) -> list[str]:
    """What the built services run now (`repo@sha256:...`): the registry must serve those."""
    built = {name for name, service in stack.services.items() if service.builds}
    return sorted(
        {
            str(s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"])
            for s in services
            if str(s["Spec"]["Name"]).split("_", 1)[-1] in built
        }
    )


def judge_registry(
    client: Any, images: list[str], nodes: list[dict[str, Any]], tasks: list[dict[str, Any]]
) -> Finding:
    for image in images:
        try:
            client.images.get_registry_data(image)
        except Exception as error:  # noqa: BLE001 - any answer but the digest is the finding
            detail = f"the manager cannot resolve {image} in its registry: {error}"
            return fail("", "registry", detail, "start the registry, or `docker login` there")
    labels = {str(node.get("ID")): node_label(node) for node in nodes}
    failed = sorted(
        {
            f"{labels.get(str(t.get('NodeID')), '?')}: {(t.get('Status') or {}).get('Err')}"
            for t in tasks
            if any(word in str((t.get("Status") or {}).get("Err") or "") for word in PULL_ERRORS)
        }
    )
    if failed:
        detail = "a node could not pull: " + "; ".join(failed[:3])
        return fail("", "registry", detail, "that node must reach the registry (and be logged in)")
    pulled = sorted({labels.get(str(t.get("NodeID")), "?") for t in tasks if t.get("NodeID")})
    unseen = sorted(set(labels.values()) - set(pulled))
    detail = f"{len(images)} image(s) resolve; pulled by {', '.join(pulled) or 'no node yet'}"
    if unseen:
        return warn("", "registry", f"{detail}; not proven from {', '.join(unseen)}", UNSEEN_FIX)
    return ok("", "registry", detail)


UNSEEN_FIX = "`docker pull` one of the stack's images on those nodes once to prove they reach it"


def judge_update(stack: Stack, environment: Environment) -> Finding:
    database = environment.database.service if environment.database else None
    problems = refusals(stack, environment.zero_downtime, database)
    if problems:
        return fail("", "update", "; ".join(problems), "see docs/swarm.md, the update policy")
    served = ", ".join(environment.zero_downtime) or "none listed in zero_downtime"
    return ok("", "update", f"served services update start-first with a healthcheck ({served})")


def database_service(environment: Environment) -> str | None:
    return environment.database.service if environment.database else None


def judge_placement(stack: Stack, database: str | None = None) -> Finding:
    """Every service with a volume pinned to a node; the database service pinned, volume or not
    (a task Swarm moves to another node starts there on an empty data directory)."""
    unpinned = [
        service.name
        for service in sorted(stack.services.values(), key=lambda s: s.name)
        if (service.volumes or service.name == database) and not is_pinned(service)
    ]
    fix = 'pin each to its volume\'s node: deploy.placement.constraints: ["node.hostname == X"]'
    if database in unpinned:
        detail = (
            f"the database service {database} is not pinned to a node: Swarm may start it on "
            "another node, on an empty data directory"
        )
        others = [name for name in unpinned if name != database]
        if others:
            detail += f"; services keep a volume but float between nodes: {', '.join(others)}"
        return fail("", "placement", detail, fix)
    if unpinned:
        detail = f"services keep a volume but float between nodes: {', '.join(unpinned)}"
        return fail("", "placement", detail, fix)
    pinned = stack.service(database) if database else None
    where = f"; the database {database} by {', '.join(pinned.constraints)}" if pinned else ""
    return ok("", "placement", f"every service with a volume is pinned to a node{where}")
