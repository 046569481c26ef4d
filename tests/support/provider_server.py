"""One loopback HTTP server standing in for GitHub, GitLab, Gitea, Slack, JSON webhooks, ntfy.

It records every request (raw path, headers, JSON body, arrival time) and answers from scripts
the test sets per path prefix, else with what the real provider answers on success.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

GITHUB = "/github"
GITLAB = "/gitlab/api/v4"
GITEA = "/gitea"
SLACK = "/slack/T000/B000/hook-secret-part"
WEBHOOK = "/hooks/deploys"
DEPLOYMENT_ID = 4242


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # as sent, still percent-encoded
    headers: dict[str, str]
    body: Any
    at: float
    raw: bytes = b""  # the body's bytes as sent (for signature checks)


Answer = Callable[[Request], Response]


class ProviderServer:
    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.seen: list[Seen] = []
        self._scripts: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"

    def script(self, prefix: str, *answers: Answer | Response) -> None:
        """Answer the next requests under `prefix` with these, in order, then as usual."""
        for answer in answers:
            scripted = _fixed(answer) if isinstance(answer, Response) else answer
            self._scripts.setdefault(prefix, []).append(scripted)

    def to(self, prefix: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path.startswith(prefix)]

    def _handle(self, request: Request) -> Response:
        raw_path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
        body = json.loads(request.get_data()) if request.get_data() else None
        with self._lock:
            self.seen.append(
                Seen(
                    request.method,
                    raw_path,
                    dict(request.headers),
                    body,
                    time.monotonic(),
                    request.get_data(),
                )
            )
            answer = next(
                (
                    queue.pop(0)
                    for prefix, queue in self._scripts.items()
                    if raw_path.startswith(prefix) and queue
                ),
                None,
            )
        if answer is not None:
            return answer(request)
        return _usual(raw_path)


def _fixed(response: Any) -> Answer:
    return lambda _request: response


def _usual(path: str) -> Response:
    if path.startswith(SLACK):
        return Response("ok", status=200, content_type="text/html")
    if path.startswith(GITHUB) and path.endswith("/deployments"):
        return json_response({"id": DEPLOYMENT_ID, "sha": "x"}, 201)
    if path.startswith(WEBHOOK):
        return Response("", status=204)
    if path == "/":  # ntfy (through Apprise) posts to the root, the topic in the JSON body
        return json_response({"id": "ntfy-message", "event": "message"}, 200)
    return json_response({"id": 1}, 201)


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )
