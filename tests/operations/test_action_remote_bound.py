"""The status API's deploy action never waits for a silent remote inside the request."""

from __future__ import annotations

import socket
import time
from typing import Any

import redis

from tests.support import git_repo
from tests.support.status import status_app


def _silent_remote() -> socket.socket:
    """A TCP port that accepts connections (the kernel does) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener


def test_deploy_action_gives_up_on_a_silent_remote(
    settings: Any, redis_conn: redis.Redis, repo: Any
) -> None:
    """The status API's deploy asks the remote within a tight bound (not the 300 s fetch
    timeout) and answers 422 saying so; with a full SHA it does not ask at all."""
    with _silent_remote() as listener:
        port = listener.getsockname()[1]
        git_repo.git(repo.checkout, "remote", "set-url", "origin", f"http://127.0.0.1:{port}/x.git")
        app = status_app(redis_conn, settings, role="deployer")
        app.config["ACTION_REMOTE_SECONDS"] = 1
        client = app.test_client()
        started = time.monotonic()
        answer = client.post("/api/environments/app/dev/deploy", json={"ref": "main"})
        assert time.monotonic() - started < 30  # the bound held (the fetch timeout is 300 s)
        assert answer.status_code == 422, answer.get_data(as_text=True)
        assert "did not answer within 1 s" in answer.get_json()["error"]
        by_sha = client.post("/api/environments/app/dev/deploy", json={"ref": repo.first})
        assert by_sha.status_code == 202, by_sha.get_data(as_text=True)
