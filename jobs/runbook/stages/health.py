"""Poll the health URL and Docker's view of the containers until both are good or time is up.

The failure message carries the last answer seen, because "unhealthy" alone sends people
digging through logs at 2 a.m. A failure that can never clear up (a container this deploy
created that crashed: restarted, restarting, or exited non-zero) ends the wait at once instead
of after the whole timeout: waiting would only delay the revert.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from config.model import Health
from jobs.compose.images import SERVICE_LABEL, running_containers
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.direct_health import (
    DirectProbe,
    before_hooks,
    judge,
    while_draining,
)
from jobs.swarm import is_swarm
from jobs.swarm.checks import probe_tasks

MAX_INTERVAL = 5.0
REVERT_FIRST_INTERVAL = 0.1


def wait_healthy(ctx: DeployContext, stage: str = "health") -> None:
    # While old containers drain, the release is also read on its own containers (or this
    # waits until the old ones are gone): never a success answered by the version that left.
    direct = while_draining(ctx) if stage == "health" else None
    try:
        _poll(ctx, stage, direct)
    finally:
        if direct is not None:
            direct.close()
    if direct is not None:
        before_hooks(ctx)


def _poll(ctx: DeployContext, stage: str, direct: DirectProbe | None) -> None:
    health = ctx.environment.health
    deadline = time.monotonic() + health.timeout
    # A revert polls fast at first: the previous version is usually up within a second, and
    # the revert holds the environment's lock and its report until this proves it.
    interval = min(health.interval, REVERT_FIRST_INTERVAL) if stage == "revert" else health.interval
    last = "no answer yet"
    while True:
        http_ok, http_seen = _probe_http(ctx)
        if direct is not None:
            direct_ok, direct_seen = direct.probe()
            http_ok, http_seen = http_ok and direct_ok, f"{http_seen}; {direct_seen}"
        problems, containers_seen = _probe_containers(ctx)
        last = f"{http_seen}; {containers_seen}"
        if http_ok and not problems:
            ctx.log.info(f"healthy: {last}")
            return
        final = [problem.text for problem in problems if problem.final]
        if final:  # the cause first and alone: it must survive the 140-character cut
            ctx.log.info(f"last seen: {last}")
            causes = ", ".join(final)
            raise StageFailed(stage, f"{causes}: a crash, not waiting out {health.timeout:.0f}s")
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
    return judge(health, str(health.url), answer)


def _probe_containers(ctx: DeployContext) -> tuple[list[Problem], str]:
    """What is wrong with the running containers (none: all fine), and how that reads."""
    if is_swarm(ctx.environment):
        ok, seen = probe_tasks(ctx)
        return ([] if ok else [Problem(seen)]), seen
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
    if not problems:
        return [], "containers fine"
    problems.sort(key=lambda problem: problem.text)
    return problems, "containers: " + ", ".join(problem.text for problem in problems)


@dataclass(frozen=True)
class Problem:
    """What is wrong with a container; `final` when it can never clear up by waiting."""

    text: str
    final: bool = False


def container_problem(
    service: str, status: str, attrs: dict[str, Any], since: str
) -> Problem | None:
    """What is wrong with one container as Docker reports it, or None.

    A container this deploy created (after `since`, the deploy's start) that has restarted is
    a crash, even at an instant when it runs and is healthy again: a crash loop is up between
    its restarts, and a health stage that passed at such an instant reported a false success.
    Such a crash is final: a restart count never goes down, and nothing in the deploy starts
    an exited container again. A container from before the deploy, or one merely unhealthy or
    starting, may still come good within the timeout.
    """
    state = attrs.get("State", {})
    health = (state.get("Health") or {}).get("Status")
    restarts = int(attrs.get("RestartCount") or 0)
    ours = bool(since) and _timestamp(str(attrs.get("Created", ""))) >= _timestamp(since)
    if state.get("Restarting"):
        return Problem(f"{service} is restarting", final=ours)
    if restarts and ours:
        return Problem(f"{service} restarted {restarts} time(s) since this deploy created it", True)
    if health == "unhealthy" and status == "running":
        return Problem(f"{service} is unhealthy")
    if health == "starting" and status == "running":
        # Not proven yet: its first health check has not passed (a recreated service).
        return Problem(f"{service} health is still starting")
    if status == "exited" and state.get("ExitCode", 0) != 0:
        return Problem(f"{service} exited with {state.get('ExitCode')}", final=ours)
    return None


def _timestamp(text: str) -> datetime:
    """Docker's RFC 3339 time (nanoseconds) or a record's (milliseconds, Z), as UTC."""
    head, _, rest = text.rstrip("Z").partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        return datetime.fromisoformat(f"{head}.{fraction or '0'}").replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
