"""Queueing accepted pushes: records, RQ jobs and delivery idempotency in one transaction."""

from __future__ import annotations

import redis
from rq import Queue

from config import load_settings
from jobs.record import DeployStore
from jobs.submit import DeployRequest, Duplicate, QueueUnavailable, Submitted, submit


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
    return load_settings(example_config_path, {"CRM_WEBHOOK_SECRET": "s3cret"})


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
