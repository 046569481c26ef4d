"""A 202 survives a crash of the embedded Redis: SIGKILL right after a burst, start it again."""

from __future__ import annotations

import secrets
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from rq import Queue

from jobs.state.records import FINAL_STATES, DeployStore
from tests.support.deliveries import encode, github_headers, make_settings, payload
from tests.support.deploying import work
from webhook.app import create_app
from webhook.embedded_redis import start_embedded

BURST = 80


def test_every_acknowledged_deploy_survives_sigkill_and_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Every deploy answered 202 before Redis was SIGKILLed is there after restart, and runs."""
    directory = tmp_path_factory.mktemp("e")  # short: unix socket paths are limited
    process, url = start_embedded(directory)
    persistence = redis.Redis.from_url(url).config_get("append*")
    assert (persistence["appendonly"], persistence["appendfsync"]) == ("yes", "always")
    settings = make_settings(directory / "state", url)
    client = create_app(settings).test_client()

    def post(_: int) -> str | None:
        push = payload("github-push.json")
        push["after"] = push["head_commit"]["id"] = secrets.token_hex(20)  # a new commit each
        body = encode(push)
        answer = client.post(
            "/hooks/crm", data=body, headers=github_headers(body, delivery=str(uuid.uuid4()))
        )
        return str(answer.json["deploy_id"]) if answer.status_code == 202 else None  # type: ignore[index]

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            acknowledged = [deploy_id for deploy_id in pool.map(post, range(BURST)) if deploy_id]
        assert len(acknowledged) == BURST
        process.send_signal(signal.SIGKILL)  # no shutdown, no final flush
        process.wait()
        process, url = start_embedded(directory)
        connection = redis.Redis.from_url(url)
        store = DeployStore(connection)
        queued = set(Queue("deploys.local", connection=connection).job_ids)
        assert [store.get(i).state for i in acknowledged] == ["queued"] * BURST
        assert set(acknowledged) <= queued
        work(settings, connection)
        states = {store.get(i).state for i in acknowledged}
        assert states <= FINAL_STATES and "queued" not in states
    finally:
        process.kill()
        process.wait()
