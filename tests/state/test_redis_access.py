"""compose.yml's Redis refuses strangers yet lets deployhook work; doctor sees an open Redis."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

from config import load_settings
from jobs.doctor import redis_guard
from jobs.doctor.check import Status
from jobs.state.records import DeployStore
from jobs.state.submit import DeployRequest, Submitted, submit
from jobs.worker.start import run_worker
from tests.support.redis_server import redis_server_binary
from tests.support.web import free_port

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "0123456789abcdef" * 4


def compose_redis_argv(port: int, directory: Path) -> list[str]:
    """The redis service's command from compose.yml, its variables filled in as compose would."""
    command = yaml.safe_load((REPO / "compose.yml").read_text())["services"]["redis"]["command"]
    values = {"DEPLOYHOOK_REDIS_PORT": str(port), "DEPLOYHOOK_REDIS_PASSWORD": PASSWORD}

    def fill(word: str) -> str:
        return re.sub(r"\$\{(\w+)[^}]*\}", lambda m: values[m.group(1)], word)

    argv = [str(directory) if word == "/data" else fill(str(word)) for word in command]
    argv[0] = redis_server_binary()
    return argv


def _serve(argv: list[str], port: int) -> Iterator[int]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                redis.Redis(port=port).ping()
                break
            except (redis.AuthenticationError, redis.ResponseError):
                break  # up, and refusing us
            except redis.ConnectionError:
                if process.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {argv}") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def compose_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A redis-server run with compose.yml's own command line, on a free loopback port."""
    port = free_port()
    yield from _serve(compose_redis_argv(port, tmp_path_factory.mktemp("compose-redis")), port)


@pytest.fixture(scope="module")
def open_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A stock redis-server on TCP with no password and an evicting policy."""
    port = free_port()
    directory = tmp_path_factory.mktemp("open-redis")
    argv = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--dir", str(directory), "--maxmemory-policy", "allkeys-lru"]
    yield from _serve(argv, port)


def test_compose_redis_refuses_a_connection_without_credentials(compose_redis: int) -> None:
    """Without the password, compose.yml's Redis answers nothing: no read, no write, no queue."""
    once = Retry(NoBackoff(), 0)  # a refusal is final: no retries to wait through
    stranger = redis.Redis(port=compose_redis, retry=once)
    for attempt in (stranger.ping, lambda: stranger.keys("*"), lambda: stranger.set("x", "1")):
        with pytest.raises(redis.AuthenticationError):
            attempt()
    with pytest.raises(redis.AuthenticationError):
        Queue("deploys.local", connection=stranger).enqueue_call("os.system", args=("id",))
    wrong = redis.Redis(port=compose_redis, username="deployhook", password="guessed", retry=once)
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()


def test_compose_redis_user_runs_deploys_but_cannot_flush(
    compose_redis: int, example_config_path: Path, tmp_path: Path
) -> None:
    """deployhook's ACL user queues and works a deploy, and doctor finds Redis closed and
    noeviction; FLUSHALL and CONFIG SET are refused to it."""
    url = f"redis://deployhook:{PASSWORD}@127.0.0.1:{compose_redis}/0"
    connection = redis.Redis.from_url(url)
    settings = load_settings(example_config_path, {"CRM_WEBHOOK_SECRET": "x" * 32})
    request = DeployRequest("crm", "dev", "branch", "main", "b" * 40, "github push")
    queued = submit(connection, settings, [request])
    assert isinstance(queued, Submitted)
    run_worker(settings, connection, burst=True)
    assert DeployStore(connection).get(queued.deploys[0].id).state != "queued"
    for refused in (connection.flushall, lambda: connection.config_set("save", "")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            refused()
    found = {
        finding.check: finding.status for finding in redis_guard.probe(redis.Redis.from_url(url))
    }
    assert found == {"redis-auth": Status.OK, "redis-memory": Status.OK, "jobs": Status.OK}


def test_doctor_warns_about_an_open_tcp_redis_and_reports_refused_jobs(
    open_redis: int, example_config_path: Path
) -> None:
    """A TCP Redis answering without credentials and an evicting policy are warnings; a job the
    worker refused fails the jobs check, naming it."""
    url = f"redis://127.0.0.1:{open_redis}/0"
    connection = redis.Redis.from_url(url)
    connection.delete("deployhook:refused-jobs")
    settings = load_settings(example_config_path, {"CRM_WEBHOOK_SECRET": "x" * 32})
    planted = Queue("deploys.local", connection=connection).enqueue_call("os.system", args=("id",))
    run_worker(settings, connection, burst=True)
    found = {finding.check: finding for finding in redis_guard.probe(redis.Redis.from_url(url))}
    assert found["redis-auth"].status == Status.WARN
    assert "answers without credentials" in found["redis-auth"].detail
    assert (
        found["redis-memory"].status == Status.WARN
        and "allkeys-lru" in found["redis-memory"].detail
    )
    assert found["jobs"].status == Status.FAIL and planted.id in found["jobs"].detail


@pytest.mark.parametrize(
    ("mode", "status"),
    [(0o140777, Status.WARN), (0o140770, Status.OK), (0o140755, Status.OK), (0o140700, Status.OK)],
)
def test_socket_modes(mode: int, status: Status) -> None:
    """A unix socket others may write to is open to every local user; 0660 and tighter are not."""
    assert redis_guard.judge_socket_mode("/run/redis.sock", mode).status == status


def test_embedded_redis_socket_is_not_open_to_others(tmp_path: Path) -> None:
    """The embedded Redis of `deployhook up` listens on a socket only its owner may open."""
    from webhook.embedded_redis import embedded_redis

    with embedded_redis(tmp_path / "r") as url:
        mode = os.stat(url.removeprefix("unix://")).st_mode
        assert redis_guard.judge_socket_mode(url, mode).status == Status.OK
        assert mode & 0o007 == 0
