"""The container health check: healthy only when /healthz answers 2xx on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.http_thread import in_thread
from webhook.healthcheck import check


@contextmanager
def answering(status: int) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as base:
        yield f"{base}/healthz"


def test_healthy_on_2xx() -> None:
    """A 200 from /healthz counts as healthy."""
    with answering(200) as url:
        assert check(url) is None


def test_unhealthy_on_error_status() -> None:
    """A 503 from /healthz is unhealthy, and the message names the status."""
    with answering(503) as url:
        assert check(url) == f"{url}: expected a 2xx status, got 503"


def test_unhealthy_when_nothing_listens() -> None:
    """A closed port is unhealthy with a one-line reason, not a traceback."""
    with answering(200) as url:
        pass  # the server is gone: its port is closed now
    problem = check(url)
    assert problem is not None and problem.startswith(f"{url}: no answer (")


def test_refuses_non_http_urls() -> None:
    """Only http(s) URLs are fetched, so the variable cannot point at a local file."""
    assert check("file:///etc/passwd") == (
        "DEPLOYHOOK_HEALTH_URL must be an http(s) URL, got 'file:///etc/passwd'"
    )
