"""The real thing: `deployhook serve` and `deployhook up` as processes, over HTTP on loopback."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import redis
import requests
from rq import Queue

from tests.support.deliveries import (
    SECRETS,
    config_text,
    encode,
    github_headers,
    payload,
)
from tests.support.web import DEPLOYHOOK, REPO_ROOT, free_port, running


def _signed_and_forged(base_url: str, project: str, secret: str | None = None) -> tuple[int, int]:
    body = encode(payload("github-push.json"))
    signed = github_headers(body, secret=secret) if secret else github_headers(body)
    forged = github_headers(body, secret="not-the-secret")
    good = requests.post(f"{base_url}/hooks/{project}", data=body, headers=signed, timeout=10)
    bad = requests.post(f"{base_url}/hooks/{project}", data=body, headers=forged, timeout=10)
    return good.status_code, bad.status_code


def test_serve_under_gunicorn(tmp_path: Path, redis_url: str, redis_conn: redis.Redis) -> None:
    """gunicorn serves the intake: signed push 202, forged 401, oversized chunked 413, one job."""
    config = tmp_path / "deployhook.yml"
    config.write_text(config_text(tmp_path) + "server: {max_body_bytes: 16384}\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [*DEPLOYHOOK, "serve", "--config", str(config), "--bind", f"127.0.0.1:{port}"]
    with running(argv, {**SECRETS, "DEPLOYHOOK_REDIS_URL": redis_url}, base) as process:
        assert _signed_and_forged(base, "crm") == (202, 401)
        big = encode(payload("github-push.json") | {"padding": "x" * 20_000})
        chunked = requests.post(
            f"{base}/hooks/crm",
            data=iter([big[:10_000], big[10_000:]]),  # a generator body is sent chunked
            headers=github_headers(big),
            timeout=10,
        )
        assert chunked.status_code == 413
        assert chunked.json() == {"error": "body exceeds the limit of 16384 bytes"}
    assert process.returncode == 0
    assert len(Queue("deploys.local", connection=redis_conn)) == 1


def test_up_with_example_config(tmp_path: Path, example_config_path: Path) -> None:
    """`deployhook up` with the example config and embedded Redis answers 202 and 401; the
    status page is closed and says how to add a user, and the user added so can read it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [*DEPLOYHOOK, "up", "--config", str(example_config_path), "--bind", f"127.0.0.1:{port}"]
    env = {
        "CRM_WEBHOOK_SECRET": "crm-secret-for-the-tests",
        "DEPLOYHOOK_REDIS_URL": "",
        # The worker takes the queued deploy at once; it must not reach any real Docker engine.
        "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
    }
    with running(argv, env, base, cwd=tmp_path) as process:
        assert _signed_and_forged(base, "crm", secret="crm-secret-for-the-tests") == (202, 401)
        closed = requests.get(f"{base}/api/environments", timeout=10)
        assert closed.status_code == 401
        assert "deployhook user add NAME --role admin" in closed.json()["error"]
        config = ["--config", str(example_config_path)]
        added = _deployhook("user", "add", "ops", "--role", "admin", *config, env=env,
                            cwd=tmp_path, stdin="a long password for ops\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
        made = _deployhook("token", "create", "ops", "--role", "viewer", *config, env=env,
                           cwd=tmp_path)  # fmt: skip
        bearer = {"Authorization": f"Bearer {made.stdout.strip()}"}
        opened = requests.get(f"{base}/api/environments", headers=bearer, timeout=10)
        assert opened.status_code == 200, opened.text
    assert process.returncode == 0
    redis_dir = tmp_path / ".state" / "redis"
    assert (redis_dir / "appendonly.aof").stat().st_size > 0  # the deploy is on disk
    assert not (redis_dir / "redis.sock").exists()  # and Redis has stopped


def test_serve_without_redis_refuses(tmp_path: Path) -> None:
    """`deployhook serve` without a Redis URL exits 1 and says how to give one."""
    config = tmp_path / "deployhook.yml"
    config.write_text(config_text(tmp_path))
    result = _deployhook("serve", "--config", str(config), env=SECRETS)
    assert result.returncode == 1
    assert "DEPLOYHOOK_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_errors_are_listed(tmp_path: Path) -> None:
    """Every command reports configuration problems as a list with paths, exit 1."""
    config = tmp_path / "deployhook.yml"
    config.write_text(config_text(tmp_path).replace("provider: gitea", "provider: svn"))
    for command in ("serve", "worker", "up"):
        result = _deployhook(command, "--config", str(config), env=SECRETS)
        assert result.returncode == 1, command
        assert "projects.wiki.provider" in result.stderr
        assert "Traceback" not in result.stderr


def test_help_for_each_command() -> None:
    """Each command's --help explains its options."""
    for command, option in (("serve", "--bind"), ("worker", "--queue"), ("up", "--workers")):
        result = _deployhook(command, "--help")
        assert result.returncode == 0
        assert option in result.stdout


def test_worker_burst_empties_queue(
    redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """`deployhook worker --burst` takes the queued job and exits when the queue is empty."""
    config = tmp_path / "deployhook.yml"
    config.write_text(config_text(tmp_path))
    Queue("deploys.local", connection=redis_conn).enqueue_call("builtins.len", args=("abc",))
    env = {**SECRETS, "DEPLOYHOOK_REDIS_URL": redis_url}
    result = _deployhook("worker", "--config", str(config), "--burst", env=env)
    assert result.returncode == 0, result.stderr
    assert len(Queue("deploys.local", connection=redis_conn)) == 0


def test_worker_unreachable_redis(tmp_path: Path) -> None:
    """`deployhook worker` with Redis down exits 1 with a message, no traceback."""
    config = tmp_path / "deployhook.yml"
    config.write_text(config_text(tmp_path, f"unix://{tmp_path}/absent.sock"))
    result = _deployhook("worker", "--config", str(config), "--burst", env=SECRETS)
    assert result.returncode == 1
    assert "cannot reach Redis" in result.stderr
    assert "Traceback" not in result.stderr


def _deployhook(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DEPLOYHOOK, *args],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        cwd=cwd,
        input=stdin or None,  # None: inherit, as a worker started by hand does
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_answers_metrics_on_their_own_address(
    tmp_path: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """auth.metrics.bind: `deployhook serve` also answers /metrics there without identity
    (while the main address asks for one), and stops that listener with itself."""
    port, metrics_port = free_port(), free_port()
    config = tmp_path / "deployhook.yml"
    text = config_text(tmp_path).replace(
        "auth:\n", f"auth:\n  metrics: {{bind: '127.0.0.1:{metrics_port}'}}\n"
    )
    config.write_text(text)
    base = f"http://127.0.0.1:{port}"
    argv = [*DEPLOYHOOK, "serve", "--config", str(config), "--bind", f"127.0.0.1:{port}"]
    with running(argv, {**SECRETS, "DEPLOYHOOK_REDIS_URL": redis_url}, base):
        assert requests.get(f"{base}/metrics", timeout=10).status_code == 401
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the metrics listener never answered"
                time.sleep(0.2)
        assert answer.status_code == 200 and "deployhook_redis_up 1.0" in answer.text
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
