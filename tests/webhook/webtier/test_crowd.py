"""`deployhook serve` answers a signed push at once while watchers and slow uploads hold on."""

from __future__ import annotations

import time
from pathlib import Path

import redis
import requests

from tests.support.crowd import crowd, open_watcher, status_line
from tests.support.deliveries import SECRETS, config_text, encode, github_headers, payload
from tests.support.web import DEPLOYHOOK, free_port, running

CROWD = 20  # of each kind: more than the 16 threads that used to serve everything
SERVER = "server: {workers: 1, live_streams: 20, body_timeout: 3}\n"


def _push(base: str) -> tuple[int, float, dict[str, str]]:
    data = payload("github-push.json")
    data["after"] = f"{time.time_ns():040x}"[-40:]  # a new commit each time: never a duplicate
    body = encode(data)
    began = time.monotonic()
    answer = requests.post(f"{base}/hooks/crm", data=body, headers=github_headers(body), timeout=10)
    return answer.status_code, time.monotonic() - began, answer.json()


def test_intake_answers_while_watchers_and_slow_uploads_are_connected(
    tmp_path: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """With 20 live logs and 20 trickling bodies open, pushes get 202 fast; then 503 and 408."""
    config = tmp_path / "deployhook.yml"
    config.write_text(config_text(tmp_path) + SERVER)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [*DEPLOYHOOK, "serve", "--config", str(config), "--bind", f"127.0.0.1:{port}"]
    # A short graceful stop: the open streams would otherwise hold the shutdown for 20 s.
    env = {
        **SECRETS,
        "DEPLOYHOOK_REDIS_URL": redis_url,
        "GUNICORN_CMD_ARGS": "--graceful-timeout 2",
    }
    with running(argv, env, base):
        status, _, first = _push(base)  # a queued deploy whose live log stays open
        assert status == 202
        with crowd(port, first["deploy_id"], CROWD, CROWD) as uploads:
            took = []
            for _ in range(5):
                status, seconds, _ = _push(base)
                assert status == 202
                took.append(seconds)
            assert max(took) < 1.0, took
            # Beyond server.live_streams, a stream is refused at once and told when to retry.
            extra = open_watcher(port, first["deploy_id"])
            refused = extra.recv(4096).decode()
            extra.close()
            assert refused.startswith("HTTP/1.1 503"), refused[:200]
            assert "Retry-After: 10" in refused
            # A body still trickling after server.body_timeout gets 408 and its connection ends.
            assert status_line(uploads[0], timeout=10).startswith("HTTP/1.1 408")
