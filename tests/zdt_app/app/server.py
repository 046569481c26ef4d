"""The matrix app: every answer names its version; BEHAVIOUR makes a release adversarial.

good         serves, healthy once the schema volume has reached SCHEMA;
unhealthy    listens and answers 200 with its version, but its healthcheck fails;
crash        listens, answers, never ready, exits after a second (with `restart:` a crash loop);
crash_after_ready  healthy, then exits 2 s after its first ready answer (a crash loop that
             Docker calls healthy between its crashes);
slow         listens at once, answers 503 for 10 s, then serves and is healthy;
ignore_term  serves, and ignores SIGTERM (Docker's SIGKILL ends it);
abrupt       serves, and exits at once on SIGTERM, dropping whatever is in flight;
fails_after  healthy to Docker, but the environment's health URL answers 500.
crash_on_health  healthy to Docker, serves, and exits on any request of the environment's
             health URL: a release that dies under its first real use, after the swap's look.
first_only   its first container serves and is healthy; every later one crash-loops as `crash`
             does (a release that breaks with a second replica: a lock, a port, a claim).

HTTP/1.1 with keep-alive, at most two requests a connection: a proxy that pools connections
both reuses them and dials (looks the name up) often. On SIGTERM (unless ignore_term or
abrupt) it stops accepting, closes its idle keep-alive connections, finishes the requests in
flight, then exits: a well-behaved server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
VERSION = (ROOT / "VERSION").read_text().strip()
BEHAVIOUR = (ROOT / "BEHAVIOUR").read_text().strip()
NEEDS_SCHEMA = int((ROOT / "SCHEMA").read_text())
STARTED = time.monotonic()
SLOW_START_SECONDS = 10.0

closing = threading.Event()
idle: set[socket.socket] = set()
idle_lock = threading.Lock()


def schema() -> int:
    path = Path("/schema/version")
    return int(path.read_text()) if path.is_file() else 0


def starting() -> bool:
    return BEHAVIOUR == "slow" and time.monotonic() - STARTED < SLOW_START_SECONDS


def claim_first() -> bool:
    """Whether this is the release's first container (all share the schema volume)."""
    try:
        os.close(os.open(f"/schema/first-{VERSION}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


crashing = BEHAVIOUR == "crash"


def ready() -> bool:
    never = BEHAVIOUR == "unhealthy" or crashing
    return not never and not starting() and schema() >= NEEDS_SCHEMA


crash_armed = threading.Event()


REQUESTS_PER_CONNECTION = 2


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served = 0

    def handle_one_request(self) -> None:
        with idle_lock:
            if closing.is_set():
                self.close_connection = True
                return
            idle.add(self.connection)
        try:
            super().handle_one_request()
        finally:
            with idle_lock:
                idle.discard(self.connection)
        if closing.is_set():
            self.close_connection = True

    def parse_request(self) -> bool:
        with idle_lock:
            idle.discard(self.connection)
        return super().parse_request()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/ready":
            self._send(200 if ready() else 500, "ready" if ready() else "not ready")
            if BEHAVIOUR == "crash_after_ready" and ready() and not crash_armed.is_set():
                crash_armed.set()
                threading.Thread(target=crash_soon, args=(2.0,), daemon=True).start()
        elif url.path == "/healthz":
            if BEHAVIOUR == "crash_on_health":
                os._exit(3)
            ok = ready() and BEHAVIOUR != "fails_after"
            self._send(200 if ok else 500, VERSION)
        elif starting():
            self._send(503, "starting")
        elif url.path == "/slow":
            time.sleep(float(parse_qs(url.query).get("s", ["5"])[0]))
            self._send(200, VERSION)
        elif url.path == "/version":
            self._send(200, VERSION)
        else:
            self._send(404, "not found")

    def _send(self, status: int, text: str) -> None:
        data = text.encode()
        self.served += 1
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        if closing.is_set() or self.served >= REQUESTS_PER_CONNECTION:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight
    # Python's default accept backlog is 5: with the three proxies' users on one container and
    # its accept loop starved on a loaded machine, the kernel drops the sixth waiting SYN and a
    # proxy's 300 ms connect times out (nginx: 504), whatever the swap does. Production
    # servers listen with a backlog of hundreds (gunicorn 2048); so does this one.
    request_queue_size = 128


def drain(server: Server) -> None:
    """Stop accepting, close idle keep-alive connections, let the busy ones finish, exit."""
    server.shutdown()
    with idle_lock:
        closing.set()
        for connection in idle:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)
    server.server_close()  # joins the handler threads: the requests in flight finish
    os._exit(0)


def crash_soon(after: float = 1.0) -> None:
    time.sleep(after)
    os._exit(3)


def main() -> None:
    # Every interface: the proxy reaches it on the Compose network.
    server = Server(("0.0.0.0", 8000), Handler)  # noqa: S104

    def on_term(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=drain, args=(server,), daemon=True).start()

    if BEHAVIOUR == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif BEHAVIOUR == "abrupt":
        signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
    else:
        signal.signal(signal.SIGTERM, on_term)
    global crashing
    if BEHAVIOUR == "first_only" and not claim_first():
        crashing = True
    if crashing:
        threading.Thread(target=crash_soon, daemon=True).start()
    server.serve_forever()
    threading.Event().wait()  # drain() ends the process


if __name__ == "__main__":
    main()
