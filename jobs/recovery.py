"""Find deploys that a dead worker left `running` and finish them truthfully.

Run when a worker starts. A deploy that had changed nothing yet ends `failed`; one that had
started changing the environment is reverted from what its record says ran before.
"""

from __future__ import annotations

from redis import Redis

from config import Settings
from jobs.context import new_context, secret_values
from jobs.deploylog import DeployLog
from jobs.errors import LockLost, LockTimeout, StageFailed
from jobs.outcome import finish_failed, finish_interrupted, revert_after
from jobs.stages.backup import remove_partial
from jobs.stages.rehearse import remove_containers
from jobs.state.locks import EnvironmentLock, LockOwner, current_owner
from jobs.state.owners import local_process_state
from jobs.state.records import Deploy, DeployStore

CHANGING_STAGES = ("checkout", "build", "swap", "migrate", "health", "commit", "revert")
# Long enough for a lock held by a dead worker on another host to expire (its TTL is 30 s).
RECOVERY_LOCK_WAIT = 40.0


def recover_interrupted(settings: Settings, connection: Redis, queues: list[str]) -> list[str]:
    """Recover every interrupted deploy of the environments these queues serve; return ids."""
    store = DeployStore(connection)
    recovered = []
    for project_name, project in settings.projects.items():
        for env_name, environment in project.environments.items():
            if environment.queue not in queues:
                continue
            for record in store.history(f"{project_name}/{env_name}", limit=20):
                if record.state == "running":
                    recover(record, settings, connection)
                    recovered.append(record.id)
    return recovered


def recover(record: Deploy, settings: Settings, connection: Redis) -> None:
    store = DeployStore(connection)
    holder = current_owner(connection, record.target)
    if holder is not None and holder.is_alive_local_process():
        return  # another worker on this host is running it right now
    if _worker_alive(record):
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
        if record.state != "running" or _worker_alive(record):
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
        if ctx.started("rehearse"):
            left = remove_containers(ctx)
            log.info(f"rehearsal containers still there: {left}" if left else "rehearsal removed")
        try:
            if any(ctx.started(name) for name in CHANGING_STAGES):
                revert_after(ctx, failure)
            else:
                finish_failed(ctx, failure, "failed", "nothing was changed")
        except LockLost as lost:
            finish_interrupted(ctx, lost)
        finally:
            ctx.close()
    finally:
        lock.release()


def _worker_alive(record: Deploy) -> bool:
    """Is the worker process the record names (host:pid) alive on this host?"""
    host, _, pid = (record.worker or "").rpartition(":")
    return pid.isdigit() and local_process_state(host, int(pid)) == "alive"
