"""Poll the health URL and Docker's view of the containers until both are good or time is up.

The failure message carries the last answer seen, because "unhealthy" alone sends people
digging through logs at 2 a.m.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import requests

from config.model import Health
from jobs.compose.images import SERVICE_LABEL, running_containers
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.swarm import is_swarm
from jobs.swarm.checks import probe_tasks

MAX_INTERVAL = 5.0
REVERT_FIRST_INTERVAL = 0.1


def wait_healthy(ctx: DeployContext, stage: str = "health") -> None:
    health = ctx.environment.health
    deadline = time.monotonic() + health.timeout
    # A revert polls fast at first: the previous version is usually up within a second, and
    # the revert holds the environment's lock and its report until this proves it.
    interval = min(health.interval, REVERT_FIRST_INTERVAL) if stage == "revert" else health.interval
    last = "no answer yet"
    while True:
        http_ok, http_seen = _probe_http(ctx)
        containers_ok, containers_seen = _probe_containers(ctx)
        last = f"{http_seen}; {containers_seen}"
        if http_ok and containers_ok:
            ctx.log.info(f"healthy: {last}")
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StageFailed(stage, f"not healthy within {health.timeout:.0f}s; last seen: {last}")
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, MAX_INTERVAL)


def _probe_http(ctx: DeployContext) -> tuple[bool, str]:
    return probe_url(ctx.environment.health)


def probe_url(health: Health) -> tuple[bool, str]:
    """One GET of the health URL: whether it answered as expected, and what it said."""
    try:
        answer = requests.get(health.url, timeout=min(10.0, health.timeout), allow_redirects=False)
    except requests.RequestException as error:
        return False, f"{health.url}: {type(error).__name__}"
    body = answer.text[:200].replace("\n", " ")
    if answer.status_code != health.expect_status:
        return (
            False,
            f"{health.url} answered {answer.status_code}, expected {health.expect_status}: {body}",
        )
    if health.expect_body is not None and health.expect_body not in answer.text:
        return False, f"{health.url} answered without {health.expect_body!r}: {body}"
    return True, f"{health.url} answered {answer.status_code}"


def _probe_containers(ctx: DeployContext) -> tuple[bool, str]:
    if is_swarm(ctx.environment):
        return probe_tasks(ctx)
    retired = set(ctx.deploy.retired_services)
    since = ctx.deploy.started_at or ""
    problems = []
    for container in running_containers(ctx):
        service = container.labels.get(SERVICE_LABEL, container.name)
        if service in retired:
            continue
        problem = container_problem(service, container.status, container.attrs, since)
        if problem:
            problems.append(problem)
    if problems:
        return False, "containers: " + ", ".join(sorted(problems))
    return True, "containers fine"


def container_problem(service: str, status: str, attrs: dict[str, Any], since: str) -> str | None:
    """What is wrong with one container as Docker reports it, or None.

    A container this deploy created (after `since`, the deploy's start) that has restarted is
    a crash, even at an instant when it runs and is healthy again: a crash loop is up between
    its restarts, and a health stage that passed at such an instant reported a false success.
    """
    state = attrs.get("State", {})
    health = (state.get("Health") or {}).get("Status")
    restarts = int(attrs.get("RestartCount") or 0)
    if state.get("Restarting"):
        return f"{service} is restarting"
    if restarts and since and _timestamp(str(attrs.get("Created", ""))) >= _timestamp(since):
        return f"{service} restarted {restarts} time(s) since this deploy created it"
    if health == "unhealthy" and status == "running":
        return f"{service} is unhealthy"
    if health == "starting" and status == "running":
        # Not proven yet: its first health check has not passed (a recreated service).
        return f"{service} health is still starting"
    if status == "exited" and state.get("ExitCode", 0) != 0:
        return f"{service} exited with {state.get('ExitCode')}"
    return None


def _timestamp(text: str) -> datetime:
    """Docker's RFC 3339 time (nanoseconds) or a record's (milliseconds, Z), as UTC."""
    head, _, rest = text.rstrip("Z").partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        return datetime.fromisoformat(f"{head}.{fraction or '0'}").replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
