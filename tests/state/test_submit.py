"""Queueing accepted pushes: records, RQ jobs and delivery idempotency in one transaction."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from config import load_settings
from jobs.state.records import DeployStore, events_key
from jobs.state.rqjobs import JOB_FUNCTION
from jobs.state.submit import (
    JOB_TIMEOUT_SECONDS,
    DeployRequest,
    Duplicate,
    QueueUnavailable,
    Submitted,
    delivery_key,
    latest_queued_key,
    submit,
)


def _request(environment: str = "dev", sha: str = "a" * 40) -> DeployRequest:
    return DeployRequest(
        project="crm",
        environment=environment,
        ref_kind="branch",
        ref_name="main",
        sha=sha,
        trigger="github push",
        delivery_id="guid-1",
        sender="octocat",
    )


def _settings(example_config_path):
    return load_settings(example_config_path, {"CRM_WEBHOOK_SECRET": "s3cret-for-the-tests"})


def test_submit_creates_record_and_job(redis_conn: redis.Redis, example_config_path) -> None:
    """A submitted push becomes a queued record and an RQ job with the same id."""
    result = submit(redis_conn, _settings(example_config_path), [_request()], "github:1:guid-1")
    assert isinstance(result, Submitted)
    deploy = result.deploys[0]
    stored = DeployStore(redis_conn).get(deploy.id)
    assert (stored.state, stored.sha, stored.sender) == ("queued", "a" * 40, "octocat")
    queue = Queue("deploys.local", connection=redis_conn)
    assert queue.job_ids == [deploy.id]
    assert [d.id for d in DeployStore(redis_conn).history("crm/dev")] == [deploy.id]


def test_redelivery_queues_nothing(redis_conn: redis.Redis, example_config_path) -> None:
    """The same delivery id answers with the first deploy id and adds no job."""
    settings = _settings(example_config_path)
    first = submit(redis_conn, settings, [_request()], "github:1:guid-1")
    again = submit(redis_conn, settings, [_request()], "github:1:guid-1")
    assert isinstance(first, Submitted)
    assert again == Duplicate(first.deploys[0].id)
    assert len(Queue("deploys.local", connection=redis_conn)) == 1


def test_redis_down_raises_queue_unavailable(example_config_path) -> None:
    """When Redis cannot be reached, submit says so instead of leaking a Redis error."""
    dead = redis.Redis.from_url("unix:///nonexistent/redis.sock")
    try:
        submit(dead, _settings(example_config_path), [_request()], "x")
    except QueueUnavailable as error:
        assert "Redis is unavailable" in str(error)
    else:
        raise AssertionError("expected QueueUnavailable")


def test_job_is_the_one_rq_builds(redis_conn: redis.Redis, example_config_path) -> None:
    """The job submit writes is a complete RQ job, in JSON: function, args, timeout."""
    result = submit(redis_conn, _settings(example_config_path), [_request()], "github:1:guid-1")
    assert isinstance(result, Submitted)
    job = Job.fetch(result.deploys[0].id, connection=redis_conn, serializer=JSONSerializer)
    assert (job.func_name, list(job.args), job.timeout) == (
        JOB_FUNCTION,
        [result.deploys[0].id],
        JOB_TIMEOUT_SECONDS,
    )
    assert (job.get_status(), job.origin) == ("queued", "deploys.local")


def test_one_delivery_many_environments_in_one_write(
    redis_conn: redis.Redis, example_config_path
) -> None:
    """Two environments from one delivery: both records, jobs, events and pointers, one marker."""
    requests = [_request("dev"), _request("prod")]
    result = submit(redis_conn, _settings(example_config_path), requests, "github:1:guid-1")
    assert isinstance(result, Submitted)
    dev, prod = result.deploys
    assert Queue("deploys.local", connection=redis_conn).job_ids == [dev.id, prod.id]
    for deploy in (dev, prod):
        assert DeployStore(redis_conn).get(deploy.id).state == "queued"
        assert redis_conn.get(latest_queued_key(deploy.target)) == deploy.id.encode()
        assert redis_conn.llen(events_key(deploy.id)) == 1
    assert redis_conn.get(delivery_key("github:1:guid-1")) == dev.id.encode()


def test_racing_redeliveries_queue_one_deploy(
    redis_conn: redis.Redis, redis_url: str, example_config_path
) -> None:
    """The same delivery submitted from eight threads at once queues exactly one deploy."""
    settings = _settings(example_config_path)
    start = threading.Barrier(8)

    def one() -> Submitted | Duplicate:
        connection = redis.Redis.from_url(redis_url)
        start.wait()
        return submit(connection, settings, [_request()], "github:1:race")

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: one(), range(8)))
    queued = [o for o in outcomes if isinstance(o, Submitted)]
    assert len(queued) == 1
    others = [o for o in outcomes if not isinstance(o, Submitted)]
    assert others == [Duplicate(queued[0].deploys[0].id)] * 7
    assert Queue("deploys.local", connection=redis_conn).job_ids == [queued[0].deploys[0].id]
