"""The poll thread beside the worker: a real bare origin, real git ls-remote, real Redis."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import redis
from rq import Queue

from config import Settings
from jobs.state.keys import poll_state as poll_state_key
from jobs.state.polls import PollState
from jobs.state.records import DeployStore
from jobs.triggers.poll import Poller, start_polling
from tests.support import git_repo
from tests.support.deploying import config_for


def test_poll_thread_queues_a_new_commit_and_stops(tmp_path: Path, redis_url: str) -> None:
    """start_polling polls at once on its own thread, queues the head as `poll`, then stops."""
    connection = redis.Redis.from_url(redis_url)
    connection.flushall()
    template = tmp_path / "template"
    template.mkdir()
    (template / "README").write_text("hello\n")
    sha = git_repo.create_origin(template, tmp_path / "origin.git", tmp_path / "author", "one")
    checkout = tmp_path / "checkout"
    git_repo.git(tmp_path, "clone", "--quiet", (tmp_path / "origin.git").as_uri(), str(checkout))
    environment = {
        "trigger": {"branch": "main"},
        "path": str(checkout),
        "compose": {"files": ["compose.yml"], "project": "polled"},
        "health": {"url": "http://127.0.0.1:9/"},
        "poll": {"interval": 10},
    }
    settings = Settings.model_validate(config_for(environment, tmp_path / "state", redis_url))
    stop = start_polling(settings, connection, settings.queues())
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = PollState.from_json(connection.get(poll_state_key("sample/dev")), 10)
            if state.last_at:
                break
            time.sleep(0.1)
    finally:
        stop()
    assert state.result.startswith("queued "), state.result
    [record] = DeployStore(connection).history("sample/dev")
    assert (record.trigger, record.sha, record.ref_name, record.state) == (
        "poll", sha, "main", "queued",
    )  # fmt: skip
    assert Queue("deploys.local", connection=connection).job_ids == [record.id]
    log = DeployStore(connection).log("poll:sample/dev")
    assert any("ls-remote" in line for line in log)
    connection.flushall()
    connection.close()


def test_no_polled_environment_no_thread(tmp_path: Path, redis_url: str) -> None:
    """Without `poll:` anywhere, start_polling starts nothing and its stop is a no-op."""
    environment = {
        "trigger": {"branch": "main"},
        "path": str(tmp_path),
        "compose": {"files": ["compose.yml"], "project": "plain"},
        "health": {"url": "http://127.0.0.1:9/"},
    }
    settings = Settings.model_validate(config_for(environment, tmp_path / "s", redis_url))
    before = {thread.name for thread in threading.enumerate()}
    stop = start_polling(settings, redis.Redis.from_url(redis_url), settings.queues())
    assert "deployhook-poll" not in {thread.name for thread in threading.enumerate()} - before
    stop()


def test_a_failing_remote_is_reported_and_retried(tmp_path: Path, redis_url: str) -> None:
    """ls-remote failing (no such remote) is the poll's result; nothing is queued or forgotten."""
    connection = redis.Redis.from_url(redis_url)
    connection.flushall()
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    git_repo.git(checkout, "init", "--quiet")
    environment = {
        "trigger": {"branch": "main"},
        "path": str(checkout),
        "remote": "nowhere",
        "compose": {"files": ["compose.yml"], "project": "broken"},
        "health": {"url": "http://127.0.0.1:9/"},
        "poll": {"interval": 10},
    }
    settings = Settings.model_validate(config_for(environment, tmp_path / "state", redis_url))
    clock = [100.0]
    poller = Poller(settings, connection, settings.queues(), clock=lambda: clock[0])
    poller.tick()
    state = PollState.from_json(connection.get(poll_state_key("sample/dev")), 10)
    assert state.result.startswith("ls-remote failed: fatal: 'nowhere'"), state.result
    assert state.seen is None and state.next_at == "1970-01-01T00:01:50Z"
    assert DeployStore(connection).history("sample/dev") == []
    connection.flushall()
    connection.close()
