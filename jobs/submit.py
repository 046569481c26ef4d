"""Turn accepted pushes into deploy records and RQ jobs, exactly once per delivery.

Everything one delivery causes (its records, its jobs, the delivery marker, the "newest queued"
pointer of each environment, the reporters' events) is written by one server-side script: it
checks the delivery marker and, when the delivery is new, makes every write, atomically and in
one round trip. Either all of it lands or, when Redis fails, none of it does and the caller
answers 503.

The writes themselves come from the usual APIs (DeployStore.create, RQ's enqueue_call) queued
on a pipeline that is never executed: the script replays that pipeline's commands, so the job
RQ stores is exactly the one RQ builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from redis.typing import EncodableT
from rq import Queue

from config import Settings
from jobs.record import PREFIX, Deploy, DeployStore, new_deploy_id
from jobs.redistext import as_text
from jobs.triggers.keys import COMMIT_MARKER_TTL_SECONDS, commit_marker_key

DELIVERY_TTL_SECONDS = 7 * 24 * 3600
# Generous: each command inside a deploy has its own timeout; RQ must never cut a revert short.
JOB_TIMEOUT_SECONDS = 6 * 3600
JOB_FUNCTION = "jobs.entry.run_deploy"
# KEYS are markers: the delivery's (when given) first, then one commit marker per deploy that
# dedupes on project/env/sha (jobs/triggers/keys.py). If one exists the script returns
# {its index in KEYS, the deploy id it names}, writing nothing. Otherwise ARGV holds the
# commands to run, each as its argument count followed by the command and its arguments.
# A script is atomic like MULTI/EXEC: nothing else runs in between, and a lost connection or
# a dead Redis leaves none of it. (Also like MULTI/EXEC, a command that fails at run time, on
# a key of the wrong type, does not undo those before it.) Standalone Redis does not need
# every key declared in KEYS; Redis Cluster would, and is not supported.
SUBMIT_SCRIPT = """
for k = 1, #KEYS do
  local earlier = redis.call('GET', KEYS[k])
  if earlier then return {k, earlier} end
end
local i = 1
while i <= #ARGV do
  local count = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + count))
  i = i + count + 1
end
return false
"""


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
    # Options for the pipeline, kept in the record's `extra` (e.g. a rollback's restore_backup).
    extra: Mapping[str, Any] = field(default_factory=dict)
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
    return f"{PREFIX}:delivery:{delivery_id}"


def latest_queued_key(target: str) -> str:
    return f"{PREFIX}:env:{target}:latest"


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
    pending = list(requests)
    while True:
        deploys = [_new_record(request) for request in pending]
        commit_keys = [
            commit_marker_key(f"{r.project}/{r.environment}", r.sha) if r.dedupe_commit else ""
            for r in pending
        ]
        keys = [delivery_key(delivery)] if delivery else []
        keys += [key for key in commit_keys if key]
        try:
            with connection.pipeline(transaction=False) as pipe:  # records commands, never runs
                pipe.multi()  # RQ expects a transaction pipeline to be in MULTI mode already
                _write(connection, pipe, settings, deploys, delivery)
                for key, deploy in zip(commit_keys, deploys, strict=True):
                    if key:
                        pipe.set(key, deploy.id, ex=COMMIT_MARKER_TTL_SECONDS)
                commands = _flatten(pipe)
            earlier = connection.register_script(SUBMIT_SCRIPT)(keys, commands)
        except RedisError as error:
            raise QueueUnavailable(f"Redis is unavailable: {type(error).__name__}") from None
        if earlier is None:
            return Submitted(deploys)
        index, deploy_id = int(earlier[0]), as_text(earlier[1])
        found = keys[index - 1]
        if found not in commit_keys or len(pending) == 1:
            return Duplicate(deploy_id)
        pending.pop(commit_keys.index(found))


def _flatten(pipe: Pipeline) -> list[EncodableT]:
    """The pipeline's queued commands as the script's ARGV: count, command, arguments, ..."""
    flat: list[EncodableT] = []
    for args, _options in pipe.command_stack:
        flat.append(len(args))
        flat.extend(args)
    return flat


def enqueue(connection: Redis, queue: str, deploy: Deploy, pipe: Pipeline | None = None) -> None:
    """Put the RQ job that runs `deploy` on `queue` (again, for a deploy an operator held)."""
    Queue(queue, connection=connection).enqueue_call(
        JOB_FUNCTION,
        args=(deploy.id,),
        job_id=deploy.id,
        timeout=JOB_TIMEOUT_SECONDS,
        result_ttl=7 * 24 * 3600,
        failure_ttl=30 * 24 * 3600,
        description=f"deploy {deploy.target} {deploy.short_sha}",
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
        extra=dict(request.extra),
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
        pipe.set(latest_queued_key(deploy.target), deploy.id)
        enqueue(connection, environment.queue, deploy, pipe)
    if delivery:
        pipe.set(delivery_key(delivery), deploys[0].id, ex=DELIVERY_TTL_SECONDS)
