"""Find deploys that a dead worker left `running` and finish them truthfully.

Run when a worker starts. A deploy that had changed nothing yet ends `failed`; one that had
started changing the environment is reverted from what its record says ran before. A finished
deploy whose old containers were still draining ends their drain (jobs/runbook/stages/drains.py).
Then any
migration-rehearsal container whose deploy is no longer running (finished, or its record gone)
is removed: a throwaway copy of production data must not outlive its deploy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker.errors

from config import Environment, Settings
from jobs.commands import rehearsal
from jobs.database.dumps import remove_partial
from jobs.execution.context import command_environ, new_context, secret_values
from jobs.execution.deploylog import DeployLog
from jobs.execution.docker_sdk import docker_client
from jobs.execution.runner import Runner
from jobs.failures.errors import CommandFailed, LockLost, LockTimeout, StageFailed
from jobs.runbook.outcome import failed, interrupted, revert_after
from jobs.runbook.pipeline import finish
from jobs.runbook.stages.checkout import remove_stale_git_locks
from jobs.runbook.stages.drains import end_left_drains
from jobs.runbook.stages.rehearse import remove_containers
from jobs.runbook.table import CHANGES
from jobs.state import Connection
from jobs.state.ids import DEPLOY_ID
from jobs.state.locks import EnvironmentLock, LockOwner, current_owner
from jobs.state.records import Deploy, DeployStore, RecordError
from jobs.state.submit import enqueue
from jobs.state.workers import forget, outlived

logger = logging.getLogger("deployhook.recovery")

# A deploy that started any of these had started changing the environment: it is reverted.
CHANGING_STAGES = (*dict.fromkeys(stage.name for stage in CHANGES), "revert")
# Long enough for a lock held by a dead worker on another host to expire (its TTL is 30 s).
RECOVERY_LOCK_WAIT = 40.0
STRAY_LOG_KEEP_SECONDS = 7 * 24 * 3600  # the log of removing a stray whose record is gone
# A rehearsal container whose record is gone may belong to another deployhook (its own Redis)
# sharing this engine: removed only once far older than any rehearsal can run.
GONE_RECORD_AGE_SECONDS = 24 * 3600.0


def recover_interrupted(settings: Settings, connection: Connection, queues: list[str]) -> list[str]:
    """Recover every interrupted deploy of the environments these queues serve; return ids."""
    store = DeployStore(connection)
    recovered = []
    for target, _ in _served(settings, queues):
        for record in store.history(target, limit=20):
            if record.state == "running":
                recover(record, settings, connection)
                recovered.append(record.id)
            elif record.draining:  # finished, but its worker died before the old ones went
                end_left_drains(record, settings, connection)
    remove_stray_rehearsals(settings, connection, queues)
    return recovered


def _served(settings: Settings, queues: list[str]) -> Iterator[tuple[str, Environment]]:
    for project in settings.projects.values():
        for environment in project.environments.values():
            if environment.queue in queues:
                yield environment.target, environment


def recover(record: Deploy, settings: Settings, connection: Connection) -> None:
    store = DeployStore(connection, keep_days=settings.history.keep_days)
    holder = current_owner(connection, record.target)
    if holder is not None and holder.is_alive_local_process():
        return  # another worker on this host is running it right now
    if _worker_alive(record, connection):
        # Its worker runs on: it lost its lock (which its fence will find) but did not die.
        return
    owner = LockOwner.for_deploy(record.id, "recovering an interrupted deploy")
    lock = EnvironmentLock(connection, record.target, owner)
    try:
        lock.acquire(RECOVERY_LOCK_WAIT)
    except LockTimeout:
        return  # its worker is alive after all, or another worker is recovering it
    try:
        record = store.get(record.id)
        if record.state != "running" or _worker_alive(record, connection):
            return
        log = DeployLog(store, record.id, secret_values(settings))
        ctx = new_context(record, settings, store, log, lock)
        ctx.previous_sha = record.previous_sha
        ctx.previous_images = dict(record.previous_images)
        ctx.built_images = dict(record.image_names)
        ctx.backup = record.backup
        last = record.stages[-1].name if record.stages else "start"
        failure = StageFailed(last, f"the worker stopped during {last} (found at worker start)")
        log.info(f"recovering: {failure}")
        for partial in remove_partial(ctx):
            log.info(f"removed the unfinished backup {partial}")
        if ctx.started("checkout"):
            for stale in remove_stale_git_locks(Path(ctx.environment.path)):
                log.info(f"removed {stale}, left by the git the stopped worker ran")
        if ctx.started("rehearse"):
            left = remove_containers(ctx)
            log.info(f"rehearsal containers still there: {left}" if left else "rehearsal removed")
        try:
            if any(ctx.started(name) for name in CHANGING_STAGES):
                finish(store, record, log, revert_after(ctx, failure))
            else:
                finish(store, record, log, failed(failure, "failed", "nothing was changed"))
        except LockLost as lost:
            finish(store, record, log, interrupted(record.stages, lost))
        finally:
            ctx.close()
    finally:
        lock.release()


def hand_over(connection: Connection, deploy_id: str, queue: str, reason: str) -> str:
    """Leave the deploy this worker runs to the next worker start; returns what was done.

    For a worker that must stop now (SIGTERM): a deploy still `queued` (waiting at a gate or
    for the environment's lock) has changed nothing and is put back on its queue, so the
    acknowledged push is not lost; a `running` one stays as it stands, with a line in its log,
    and the next worker start reverts it (or ends it failed when nothing had changed), exactly
    as after a crash.
    """
    store = DeployStore(connection)
    record = store.get(deploy_id)
    log = DeployLog(store, record.id)
    forget(connection)  # this worker is leaving: the next start need not wait for its heartbeat
    if record.state == "queued":
        record.worker = None  # so that a later start does not queue it a second time
        store.save(record)
        enqueue(connection, queue, record)
        log.info(f"{reason}: not started yet, queued again for the next worker")
        return "queued again"
    if record.state == "running":
        stage = record.stages[-1].name if record.stages else "start"
        log.info(f"{reason} during {stage}: left as it stands for the next worker start")
        return "left to recovery"
    return f"nothing to do ({record.state})"


def _worker_alive(record: Deploy, connection: Connection) -> bool:
    """Does the worker the record names still beat (jobs/state/workers.py)? Waits for a
    heartbeat to expire, so a worker restarted at once still recovers its predecessor's deploy;
    for a name nothing can be told about, the environment's lock decides."""
    return not outlived(connection, record.worker)


def remove_stray_rehearsals(
    settings: Settings,
    connection: Connection,
    queues: list[str],
    gone_after: float = GONE_RECORD_AGE_SECONDS,
) -> list[str]:
    """Remove rehearsal containers whose deploy is not running; return the names removed.

    A deploy's own rehearsal (or its recovery) removes them, but not when its worker died and
    the record is gone, or when that removal failed (the engine did not answer in time). One
    whose deploy is `running` is left: a live worker, or a recovery still to come, owns it; one
    whose record is gone, until `gone_after` seconds old. Each engine the queues' environments
    use is looked at.
    """
    removed: list[str] = []
    engines = {environment.docker_host: environment for _, environment in _served(settings, queues)}
    for environment in engines.values():
        for container in _labelled(environment):
            deploy_id = str(container.labels.get(rehearsal.LABEL, ""))
            mine = (rehearsal.database_name(deploy_id), rehearsal.migration_name(deploy_id))
            if not DEPLOY_ID.match(deploy_id) or container.name not in mine:
                continue  # not a name deployhook gives a rehearsal container: not ours to remove
            state = _state(connection, deploy_id)
            if state is None and _age(container) < gone_after:
                continue
            if state != "running" and _remove_stray(
                settings, connection, environment, container.name, deploy_id, state
            ):
                removed.append(container.name)
    return removed


def _labelled(environment: Environment) -> list[Any]:
    try:
        client = docker_client(environment)
        try:
            return list(client.containers.list(all=True, filters={"label": rehearsal.LABEL}))
        finally:
            client.close()
    # The worker starts anyway; the next start looks again. StageFailed: no engine answered.
    except (docker.errors.DockerException, StageFailed) as error:
        logger.warning("rehearsal containers not looked for: %s", error)
        return []


def _age(container: Any) -> float:
    """Seconds since the container was created (0 when the engine does not say)."""
    created = str(container.attrs.get("Created") or "")[:19]  # 2026-11-27T19:11:51.123456789Z
    try:
        since = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - since).total_seconds()


def _state(connection: Connection, deploy_id: str) -> str | None:
    try:
        return DeployStore(connection).get(deploy_id).state
    except RecordError:
        return None


def _remove_stray(
    settings: Settings,
    connection: Connection,
    environment: Environment,
    name: str,
    deploy_id: str,
    state: str | None,
) -> bool:
    """`docker rm --force` it, noted in its deploy's log (kept a week when the record is gone)."""
    store = DeployStore(connection)
    log = DeployLog(store, deploy_id, secret_values(settings))
    why = f"its deploy ended {state}" if state else "its deploy record is gone"
    log.info(f"worker start: removing the rehearsal container {name} ({why})")
    # Unfenced: its deploy is over, and a throwaway is part of no environment's stack.
    runner = Runner(log, command_environ(environment, secret_values(settings)))
    try:
        result = runner.run(rehearsal.remove(name), timeout=60, check=False, quiet=True)
        problem = f"exit {result.exit_code}: {result.output[-300:]}" if result.exit_code else ""
    except CommandFailed as error:
        problem = str(error)
    if problem:
        log.info(f"worker start: the rehearsal container {name} is still there ({problem})")
    if state is None:
        store.expire_log(deploy_id, STRAY_LOG_KEEP_SECONDS)
    return not problem
