"""The sample API: a stdlib HTTP server on 127.0.0.1:$API_PORT."""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

import psycopg2

from app import health

VERSION = (Path(__file__).resolve().parent.parent / "VERSION").read_text().strip()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/api/v1/healthz":
            reason = health.problem()
            if reason is None:
                self._send(200, {"status": "ok", "version": VERSION})
            else:
                self._send(503, {"status": "unhealthy", "version": VERSION, "reason": reason})
        elif self.path == "/api/v1/version":
            self._send(200, VERSION)
        elif self.path == "/api/v1/customers":
            self._send(200, customers())
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, body: object) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        content_type = "text/plain" if isinstance(body, str) else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"api {self.address_string()} {format % args}\n")


def customers() -> list[dict[str, object]]:
    connection = psycopg2.connect(health.database_url(), connect_timeout=3)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, name, email FROM customers ORDER BY id")
            return [{"id": i, "name": n, "email": e} for i, n, e in cursor.fetchall()]
    finally:
        connection.close()


def _stop(signum: int, frame: FrameType | None) -> None:
    # As PID 1 the process ignores SIGTERM unless it handles it: stop at once on `compose stop`.
    raise SystemExit(0)


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    # API_HOST: 0.0.0.0 on a Compose bridge network, where a proxy reaches each container.
    address = (os.environ.get("API_HOST", "127.0.0.1"), int(os.environ["API_PORT"]))
    server = ThreadingHTTPServer(address, Handler)
    server.daemon_threads = True
    print(f"api version {VERSION} on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
