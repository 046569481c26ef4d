"""Turn accepted pushes into deploy records and RQ jobs, exactly once per delivery.

Everything one delivery causes (its records, its jobs, the delivery marker, the "newest queued"
pointer of each environment, the reporters' events) is written in one MULTI/EXEC transaction
under WATCH: the delivery marker, the new records' keys and their RQ job keys are watched and
checked first, so a delivery seen before queues nothing, and a record or job that already
exists is never overwritten (its id is drawn again). Either all of it lands or, when Redis
fails, none of it does and the caller answers 503. With replicas configured, the answer waits
until a replica holds it too (state/replication.py), and is a 503 when none does in time.

The writes come from the usual APIs (DeployStore.create, RQ's documented `enqueue_call(...,
pipeline=...)`) queued on that transaction pipeline, so the job RQ stores is the one RQ builds
and nothing here depends on how redis-py keeps a pipeline's commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError, WatchError
from rq.job import Job

from config import Settings
from config.targets import target_of
from jobs.state import keys
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from jobs.state.redistext import as_text
from jobs.state.replication import NotReplicated, wait_for_replicas
from jobs.state.rqjobs import enqueue_deploy

DELIVERY_TTL_SECONDS = 7 * 24 * 3600
# Generous: each command inside a deploy has its own timeout; RQ must never cut a revert short.
JOB_TIMEOUT_SECONDS = 6 * 3600
# A transaction that meets a concurrent write to a watched key is tried again this many times.
ATTEMPTS = 20


class QueueUnavailable(Exception):
    """Redis could not be reached or failed; nothing was written. Retry later."""


@dataclass(frozen=True)
class DeployRequest:
    project: str
    environment: str
    ref_kind: Literal["branch", "tag", "sha"]
    ref_name: str
    sha: str
    trigger: str
    delivery_id: str = ""
    sender: str = ""
    before_sha: str = ""
    override_reason: str | None = None  # an operator's reason for passing the release gates
    # What a manual deploy asks for besides the commit (copied to the record's typed fields).
    rollback_to: str | None = None
    restore_backup: str | None = None
    redeploy_of: str | None = None
    # Webhooks and polls: queue nothing when a deploy of this commit to this environment was
    # queued already by either (so a webhook and a poll for one commit deploy once).
    dedupe_commit: bool = False


@dataclass(frozen=True)
class Submitted:
    deploys: list[Deploy]


@dataclass(frozen=True)
class Duplicate:
    deploy_id: str


def delivery_key(delivery_id: str) -> str:
    return keys.delivery(delivery_id)


def latest_queued_key(target: str) -> str:
    return keys.latest_queued(target)


def submit(
    connection: Redis,
    settings: Settings,
    requests: list[DeployRequest],
    delivery: str | None = None,
) -> Submitted | Duplicate:
    """Queue one deploy per request; a delivery seen before queues nothing and says so.

    A request whose commit was queued for its environment already (`dedupe_commit`) is
    dropped and the rest are tried again; when none is left, the answer is a Duplicate.
    """
    if not requests:
        raise ValueError("submit needs at least one deploy request")
    try:
        outcome = _submit(connection, settings, requests, delivery)
        # The answer promises what Redis holds: with replicas, only once one of them holds it.
        wait_for_replicas(
            connection, settings.redis.acknowledging_replicas, settings.redis.replica_timeout
        )
    except RedisError as error:
        raise QueueUnavailable(f"Redis is unavailable: {type(error).__name__}") from None
    except NotReplicated as error:
        raise QueueUnavailable(f"no replica holds the delivery yet: {error}") from None
    return outcome


def _submit(
    connection: Redis, settings: Settings, requests: list[DeployRequest], delivery: str | None
) -> Submitted | Duplicate:
    pending = list(requests)
    with connection.pipeline(transaction=True) as pipe:
        for _ in range(ATTEMPTS):
            deploys = [_new_record(request) for request in pending]
            try:
                return _submit_once(pipe, connection, settings, deploys, delivery, pending)
            except (WatchError, _Taken):
                pipe.reset()  # a concurrent write: look again with fresh ids
            except _CommitQueued as queued:
                pipe.reset()
                if len(pending) == 1:
                    return Duplicate(queued.deploy_id)
                pending.pop(queued.index)
    raise QueueUnavailable(f"Redis is too busy: gave up after {ATTEMPTS} attempts")


class _Taken(Exception):
    """A new id already has a record or a job: draw again, never overwrite."""


class _CommitQueued(Exception):
    """Request `index` names a commit already queued for its environment (as `deploy_id`)."""

    def __init__(self, index: int, deploy_id: str) -> None:
        self.index = index
        self.deploy_id = deploy_id
        super().__init__(deploy_id)


def _commit_markers(requests: list[DeployRequest]) -> list[str | None]:
    return [
        keys.commit_marker(target_of(r.project, r.environment), r.sha) if r.dedupe_commit else None
        for r in requests
    ]


def _submit_once(
    pipe: Pipeline,
    connection: Redis,
    settings: Settings,
    deploys: list[Deploy],
    delivery: str | None,
    requests: list[DeployRequest],
) -> Submitted | Duplicate:
    owned = [key for deploy in deploys for key in (keys.deploy(deploy.id), _job_key(deploy.id))]
    marker = [keys.delivery(delivery)] if delivery else []
    commits = _commit_markers(requests)
    pipe.watch(*marker, *[key for key in commits if key], *owned)  # type: ignore[no-untyped-call]
    if delivery:
        earlier = pipe.get(keys.delivery(delivery))
        if earlier is not None:
            return Duplicate(as_text(earlier))
    for index, key in enumerate(commits):
        queued = pipe.get(key) if key else None
        if queued is not None:
            raise _CommitQueued(index, as_text(queued))
    if pipe.exists(*owned):
        raise _Taken()
    pipe.multi()
    _write(connection, pipe, settings, deploys, delivery)
    for key, deploy in zip(commits, deploys, strict=True):
        if key:
            pipe.set(key, deploy.id, ex=keys.COMMIT_MARKER_TTL_SECONDS)
    pipe.execute()
    return Submitted(deploys)


def _job_key(deploy_id: str) -> str:
    return str(Job.key_for(deploy_id))


def enqueue(connection: Redis, queue: str, deploy: Deploy, pipe: Pipeline | None = None) -> None:
    """Put the RQ job that runs `deploy` on `queue` (again, for a deploy an operator held)."""
    enqueue_deploy(
        connection,
        queue,
        deploy.id,
        description=f"deploy {deploy.target} {deploy.short_sha}",
        timeout=JOB_TIMEOUT_SECONDS,
        pipeline=pipe,
    )


def _new_record(request: DeployRequest) -> Deploy:
    return Deploy(
        id=new_deploy_id(),
        project=request.project,
        environment=request.environment,
        ref_kind=request.ref_kind,
        ref_name=request.ref_name,
        sha=request.sha,
        trigger=request.trigger,
        delivery_id=request.delivery_id,
        sender=request.sender,
        before_sha=request.before_sha,
        override_reason=request.override_reason,
        rollback_to=request.rollback_to,
        restore_backup=request.restore_backup,
        redeploy_of=request.redeploy_of,
    )


def _write(
    connection: Redis,
    pipe: Pipeline,
    settings: Settings,
    deploys: list[Deploy],
    delivery: str | None,
) -> None:
    store = DeployStore(connection)
    for deploy in deploys:
        environment = settings.environment(deploy.project, deploy.environment)
        store.create(deploy, pipeline=pipe)
        pipe.set(keys.latest_queued(deploy.target), deploy.id)
        enqueue(connection, environment.queue, deploy, pipe)
    if delivery:
        pipe.set(keys.delivery(delivery), deploys[0].id, ex=DELIVERY_TTL_SECONDS)


def newest_queued(connection: Redis, target: str) -> str | None:
    """The id of the newest deploy queued for an environment (newest push wins), if any."""
    newest = connection.get(keys.latest_queued(target))
    return as_text(newest) if newest is not None else None


def delivery_seen(connection: Redis, delivery_id: str) -> bool:
    """A webhook delivery with this id already queued a deploy (within the dedupe window)."""
    return bool(connection.exists(keys.delivery(delivery_id)))


def superseded(connection: Redis, record: Deploy) -> bool:
    """A newer push for the same environment is queued (a rollback is never superseded)."""
    newest_id = newest_queued(connection, record.target)
    return newest_id is not None and newest_id != record.id and record.trigger != "rollback"
