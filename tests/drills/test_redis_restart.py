"""Drill: Redis is killed and started again while signed pushes pour into the real intake.

Every delivery the intake answered 2xx has exactly one deploy record and one queued job; during
the outage the answer is 503 with Retry-After, never a 500 and never a 2xx for lost work; a
redelivery of a 503 queues it once (or finds it queued, when only the answer was lost).
"""

from __future__ import annotations

import hashlib
import signal
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from rq import Queue
from werkzeug.serving import make_server

from jobs.state.records import DeployStore
from jobs.state.submit import delivery_key
from tests.support.deliveries import encode, github_headers, make_settings, payload
from tests.support.deploying import wait_for
from tests.support.http_thread import in_thread
from tests.support.redis_server import socket_url, start_redis
from webhook.app import create_app


@pytest.fixture
def redis_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Short: a unix socket path must stay under about 107 bytes.
    return tmp_path_factory.mktemp("r")


def _body(delivery: str) -> bytes:
    """A push of its own commit per delivery: pushes of one commit would be answered as
    duplicates of the first (already queued), while a redelivery carries the same body."""
    sha = hashlib.sha1(delivery.encode()).hexdigest()  # noqa: S324 - a commit id, not security
    push = payload("github-push.json")
    push["after"] = sha
    push["head_commit"] = {**push["head_commit"], "id": sha}
    return encode(push)


def _post(base: str, delivery: str, answers: dict[str, int]) -> int:
    body = _body(delivery)
    response = requests.post(
        f"{base}/hooks/crm", data=body, headers=github_headers(body, delivery=delivery), timeout=30
    )
    assert response.status_code in {200, 202, 503}, response.text
    if response.status_code == 503:
        assert response.headers["Retry-After"] == "5"
    answers[delivery] = response.status_code
    return response.status_code


@pytest.fixture
def intake(redis_dir: Path, tmp_path: Path) -> Iterator[str]:
    settings = make_settings(tmp_path / "state", socket_url(redis_dir))
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    with in_thread(server) as base:
        yield base


def test_redis_killed_during_a_burst_loses_no_accepted_delivery(
    redis_dir: Path, intake: str
) -> None:
    """Redis SIGKILLed and restarted mid-burst: 2xx means one record and one job, else 503."""
    server = start_redis(redis_dir, appendonly=True)
    answers: dict[str, int] = {}
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            _post(intake, str(uuid.uuid4()), answers)

    def count(status: int) -> int:
        return list(answers.values()).count(status)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            senders = [pool.submit(send) for _ in range(4)]
            try:
                wait_for(lambda: count(202) >= 20, 60, "deliveries before the outage")
                server.send_signal(signal.SIGKILL)
                server.wait()
                wait_for(lambda: count(503) >= 10, 60, "503 answers during the outage")
                accepted_before = count(202)
                server = start_redis(redis_dir, appendonly=True)
                wait_for(lambda: count(202) >= accepted_before + 20, 60, "deliveries after it")
            finally:
                stop.set()  # before the pool's exit waits for the senders, even on a failure
            for sender in senders:
                sender.result()
        deliveries = list(answers)
        # The git host redelivers what was refused. Redis may have committed a delivery whose
        # answer the kill cut off (503): its redelivery is then a duplicate, not a second deploy.
        for delivery in [delivery for delivery, status in answers.items() if status == 503]:
            assert _post(intake, delivery, answers) in {200, 202}
        for delivery in deliveries[:5]:
            assert _post(intake, delivery, answers) == 200
        _check_one_record_and_job_each(redis.Redis.from_url(socket_url(redis_dir)), deliveries)
    finally:
        stop.set()
        server.kill()
        server.wait()


def _check_one_record_and_job_each(connection: redis.Redis, deliveries: list[str]) -> None:
    store = DeployStore(connection)
    jobs = Queue("deploys.local", connection=connection).job_ids
    records = store.history(limit=10 * len(deliveries))
    by_delivery = {record.delivery_id: record.id for record in records}
    assert len(records) == len(by_delivery) == len(deliveries)  # one record per delivery
    assert sorted(jobs) == sorted(by_delivery.values())  # one job per record, no strays
    for delivery in deliveries:
        marker = connection.get(delivery_key(f"crm:github:421337:{delivery}"))
        assert marker is not None and marker.decode() == by_delivery[delivery]
