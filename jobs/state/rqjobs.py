"""The RQ side of deploy jobs: JSON only, one job function, and anything else refused loudly.

RQ's default serializer is pickle, and a job names the function it runs: whoever can write to
Redis could make the worker (which drives Docker) run `os.system`. So every queue here uses
RQ's JSONSerializer (a pickle is never loaded: JSON cannot name code), and the worker runs a
job only if it is exactly `jobs.entry.run_deploy(<deploy id>)` with no instance or keyword
arguments, and never runs a job's callbacks (deployhook sets none). Any other job is deleted
unrun, logged as an error and kept in `deployhook:refused-jobs` (see `refused_jobs`), which
`deployhook doctor` reports.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs.state import keys
from jobs.state.ids import DEPLOY_ID
from jobs.state.redistext import as_text

JOB_FUNCTION = "jobs.entry.run_deploy"
REFUSED_KEEP = 200  # refusals kept (newest first)
REFUSED_TTL_SECONDS = 90 * 24 * 3600

logger = logging.getLogger("deployhook.worker")


class RefusedJob(Exception):
    """A job names something other than deployhook's own job function: it is never run."""


def why_refused(job: Job) -> str | None:
    """None for a job deployhook itself queues; otherwise what is wrong with it."""
    try:
        name, instance, args, kwargs = job.func_name, job.instance, job.args, job.kwargs
    except (DeserializationError, ValueError, TypeError):
        return "its data is not deployhook's JSON (a pickle, or garbage)"
    if name != JOB_FUNCTION or instance is not None:
        return f"it names {str(name)[:200]!r}, not {JOB_FUNCTION}"
    if kwargs or len(args) != 1 or not isinstance(args[0], str) or not DEPLOY_ID.match(args[0]):
        return "its arguments are not one deploy id"
    return None


class DeployJob(Job):
    """A Job that resolves only deployhook's own function and never a callback."""

    @property
    def func(self) -> Any:
        problem = why_refused(self)
        if problem is not None:
            raise RefusedJob(f"job {self.id} refused: {problem}")
        return super().func

    @property
    def success_callback(self) -> None:
        return None

    @property
    def failure_callback(self) -> None:
        return None

    @property
    def stopped_callback(self) -> None:
        return None


def deploy_queue(name: str, connection: Redis) -> Queue:
    """The RQ queue `name`, speaking JSON and making DeployJobs."""
    return Queue(name, connection=connection, serializer=JSONSerializer, job_class=DeployJob)


def enqueue_deploy(
    connection: Redis,
    queue: str,
    deploy_id: str,
    *,
    description: str,
    timeout: int,
    pipeline: Pipeline | None = None,
) -> None:
    deploy_queue(queue, connection).enqueue_call(
        JOB_FUNCTION,
        args=(deploy_id,),
        job_id=deploy_id,
        timeout=timeout,
        result_ttl=7 * 24 * 3600,
        failure_ttl=30 * 24 * 3600,
        description=description,
        pipeline=pipeline,
    )


def refuse(connection: Redis, job: Job, queue: str, problem: str) -> None:
    """Delete the job unrun, log it as an error and keep a note of it for `doctor`."""
    note = {"job": job.id, "queue": queue, "why": problem, "at": time.time()}
    logger.error("refused job %s from queue %s: %s (not run, deleted)", job.id, queue, problem)
    pipe = connection.pipeline(transaction=True)
    pipe.lpush(keys.REFUSED_JOBS, json.dumps(note))
    pipe.ltrim(keys.REFUSED_JOBS, 0, REFUSED_KEEP - 1)
    pipe.expire(keys.REFUSED_JOBS, REFUSED_TTL_SECONDS)
    pipe.delete(job.key)
    pipe.execute()


def refused_jobs(connection: Redis) -> list[dict[str, Any]]:
    """The jobs refused lately, newest first."""
    notes = []
    for raw in connection.lrange(keys.REFUSED_JOBS, 0, -1):
        try:
            note = json.loads(as_text(raw))
        except ValueError:
            continue
        if isinstance(note, dict):
            notes.append(note)
    return notes


# Redis gone for a moment: a restart, or a Sentinel failover until the new master answers.
_REDIS_GONE = (RedisConnectionError, RedisTimeoutError)


class GuardedWorker(SimpleWorker):
    """RQ's SimpleWorker that refuses, before anything else, every job that is not a deploy,
    and that outlives a Redis outage between jobs.

    RQ retries a lost connection only while it waits for a job. Between jobs (the suspension
    check, the maintenance pass, the worker's state and heartbeat) a ConnectionError ends
    `work()` ("unhandled exception, quitting"). So those log the outage and return, and the
    wait for the next job retries, with RQ's backoff, until Redis (or the new master) answers.
    """

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except _REDIS_GONE as error:
            _redis_gone("suspension check", error)

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except _REDIS_GONE as error:
            _redis_gone("maintenance", error)

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            super().set_state(state, pipeline)
            return
        try:
            super().set_state(state)
        except _REDIS_GONE as error:
            _redis_gone(f"state change to {state}", error)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:  # queued on the caller's transaction: its execute reports
            super().heartbeat(timeout, pipeline)
            return
        try:
            super().heartbeat(timeout)
        except _REDIS_GONE as error:
            _redis_gone("heartbeat", error)

    def execute_job(self, job: Job, queue: Queue) -> None:
        problem = why_refused(job)
        if problem is not None:
            refuse(self.connection, job, queue.name, problem)
            return
        super().execute_job(job, queue)

    def subscribe(self) -> None:
        """RQ's own, with a 1 s poll: RQ's 60 s made a stopping worker wait up to a minute
        for its pubsub thread (get_message waits that long once unsubscribed)."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )


def _redis_gone(step: str, error: Exception) -> None:
    logger.warning("Redis unavailable during the worker's %s (%s): waiting for it", step, error)


def deploy_worker(
    queues: list[str],
    connection: Redis,
    name: str | None = None,
    *,
    worker_class: type[GuardedWorker] = GuardedWorker,
) -> GuardedWorker:
    return worker_class(
        [deploy_queue(queue, connection) for queue in queues],
        connection=connection,
        name=name,
        serializer=JSONSerializer,
        job_class=DeployJob,
    )
