"""A Redis outage between jobs (a restart, a Sentinel failover) does not end the worker."""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from jobs.state.rqjobs import deploy_worker
from tests.support.redis_server import socket_url, start_redis


def test_between_jobs_a_lost_redis_is_waited_out_not_fatal(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """With Redis killed, the suspension check, the maintenance pass, the state change and the
    heartbeat log the outage and return, so RQ's `work()` goes on to its wait for a job (which
    retries) instead of quitting with "unhandled exception"."""
    directory = tmp_path_factory.mktemp("w")  # short: a unix socket path
    server = start_redis(directory)
    connection = redis.Redis.from_url(socket_url(directory), retry=Retry(NoBackoff(), 0))
    worker = deploy_worker(["deploys.local"], connection)
    server.kill()
    server.wait()
    with pytest.raises(redis.ConnectionError):
        connection.ping()  # what RQ's own methods meet
    worker.check_for_suspension(False)
    worker.run_maintenance_tasks()
    worker.set_state("idle")
    worker.heartbeat()
