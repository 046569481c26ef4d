"""Old containers whose drain a deploy's worker did not see to its end (it died, or failed).

A zero-downtime deploy is `succeeded` once its release is proven, while the old containers
drain out of the service's name under the environment's lock (jobs/runbook/stages/retiring.py);
its record lists them (`draining`: container id -> when the drain ends) until they are gone. A
worker killed in that window leaves them running, out of the name: they serve nothing new, but
they are an old version in the project, which the next deploy's snapshot would take for what
runs. So the next worker start (jobs/runbook/recovery.py) or, when another worker takes the
next deploy first, that deploy's snapshot ends their drain, under the environment's lock: it
waits until the recorded end (what was in flight on them finishes), then stops each one still
out of its service's name (SIGTERM, SIGKILL after its stop timeout) and removes it (never a
volume). The record keeps its state; a container that cannot be removed is a warning on it,
reported as a follow-up, and a container back in its name (it serves) is left alone.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import docker.errors

from config import Environment, Settings
from jobs.commands.docker import remove_container, stop_container
from jobs.compose.images import PROJECT_LABEL, SERVICE_LABEL
from jobs.compose.zero_downtime import DRAIN_CAP_SECONDS
from jobs.execution.context import DeployContext, new_context, secret_values
from jobs.execution.deploylog import DeployLog
from jobs.failures.errors import CommandFailed, LockLost, LockTimeout
from jobs.runbook.stages.service_name import in_name
from jobs.state import Connection
from jobs.state.locks import EnvironmentLock, LockOwner, current_owner
from jobs.state.records import FINAL_STATES, Deploy, DeployStore

# A recorded end further off than the environment's longest drain and this is not believed
# (a clock that jumped).
DRAIN_SLACK_SECONDS = 5.0
# Long enough for a lock held by a dead worker on another host to expire (its TTL is 30 s).
LOCK_WAIT_SECONDS = 40.0
DEFAULT_STOP_SECONDS = 10  # Docker's own, for a container that sets none


def end_left_drains(record: Deploy, settings: Settings, connection: Connection) -> None:
    """At worker start: end the drains the finished deploy `record` left, under the lock."""
    holder = current_owner(connection, record.target)
    if holder is not None and holder.is_alive_local_process():
        return  # a deploy runs there now; its snapshot ends them
    owner = LockOwner.for_deploy(record.id, "ending the drain a stopped worker left")
    lock = EnvironmentLock(connection, record.target, owner)
    try:
        lock.acquire(LOCK_WAIT_SECONDS)
    except LockTimeout:
        return  # its worker is alive and draining after all, or a deploy runs: it ends them
    try:
        store = DeployStore(connection, keep_days=settings.history.keep_days)
        record = store.get(record.id)
        if not record.draining or record.state not in FINAL_STATES:
            return
        log = DeployLog(store, record.id, secret_values(settings))
        ctx = new_context(record, settings, store, log, lock)
        try:
            end_drains(ctx, record)
        except LockLost as lost:
            ctx.log.info(f"worker start: stopped ending the drain: {lost}")
        finally:
            ctx.close()
    finally:
        lock.release()


def end_earlier_drains(ctx: DeployContext) -> None:
    """Before a deploy records what runs: end the drains earlier deploys of the environment
    left (their worker died and no worker start has ended them yet). Under the deploy's lock."""
    for record in ctx.store.history(ctx.deploy.target, limit=10):
        if record.id != ctx.deploy.id and record.draining and record.state in FINAL_STATES:
            end_drains(ctx, record)


def end_drains(ctx: DeployContext, record: Deploy) -> None:
    """`record` (a finished deploy): wait for its old containers' drain to end, then stop and
    remove each one still out of its service's name; the record then lists none (a failure
    is a warning on it, reported)."""
    say = _sayer(ctx, record)
    ends = max(_seconds(end) for end in record.draining.values())
    wait = min(ends - time.time(), longest_wait(ctx.environment))
    ids = ", ".join(ident[:12] for ident in sorted(record.draining))
    waiting = f"; waiting {wait:.0f}s for their drain to end" if wait > 0 else ""
    say(f"the old container(s) {ids} of deploy {record.id} were left draining: its worker "
        f"stopped before they were gone{waiting}")  # fmt: skip
    if wait > 0:
        time.sleep(wait)
    warnings = []
    for ident in sorted(record.draining):
        problem = _retire(ctx, ident, say)
        if problem:
            warnings.append(problem)
    record.draining = {}
    record.warnings.extend(warnings)
    ctx.store.amend(record, report=bool(warnings))  # a finished deploy: a follow-up report


def longest_wait(environment: Environment) -> float:
    """The longest a left drain is waited for: the environment's `zero_downtime_drain` (up to
    an hour) or the default drain's cap, and a little slack. Anything shorter would cut a long
    configured drain short, and the requests in flight on it."""
    configured = environment.zero_downtime_drain or 0.0
    return max(configured, float(DRAIN_CAP_SECONDS)) + DRAIN_SLACK_SECONDS


def _retire(ctx: DeployContext, ident: str, say: Any) -> str | None:
    """Stop and remove one left container; what went wrong, as a warning, or None."""
    try:
        container = ctx.docker.containers.get(ident)
    except docker.errors.NotFound:
        say(f"{ident[:12]}: gone already")
        return None
    except docker.errors.DockerException as error:
        return f"the old container {ident[:12]} was not looked at: {error}; remove it by hand"
    labels = container.labels or {}
    service = str(labels.get(SERVICE_LABEL, "?"))
    if labels.get(PROJECT_LABEL) != ctx.environment.compose.project:
        say(f"{ident[:12]}: not a container of this project: left alone")
        return None
    if container.status == "running" and in_name(container, service):
        say(f"{service}: {ident[:12]} is in the service's name again (it serves): left alone")
        return None
    grace = container.attrs.get("Config", {}).get("StopTimeout") or DEFAULT_STOP_SECONDS
    try:
        timeout = ctx.environment.timeouts.swap
        ctx.runner.run(stop_container(container.id, int(grace)), timeout=timeout)
        ctx.runner.run(remove_container(container.id), timeout=timeout)
    except CommandFailed as error:
        warning = (
            f"{service}: the old container {ident[:12]}, left draining by a stopped worker, "
            f"was not removed: {error}. Out of the name it serves nothing: remove it by hand "
            f"(docker rm -f {ident[:12]})"
        )
        say(warning)
        return warning
    say(f"{service}: the old container {ident[:12]} stopped and removed")
    return None


def _sayer(ctx: DeployContext, record: Deploy) -> Any:
    """Lines for the deploy running now and, when another, for the deploy that left them."""
    other = None if ctx.deploy is record else DeployLog(ctx.store, record.id)

    def say(line: str) -> None:
        ctx.log.info(line)
        if other is not None:
            other.info(f"deploy {ctx.deploy.id}: {line}")

    return say


def _seconds(stamp: str) -> float:
    """Unix time of a recorded UTC time; 0 (long past) for one that cannot be read."""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
