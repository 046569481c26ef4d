"""GET /healthz, GET /notes, POST /notes {"text": ...} on port 8000.

The standard library's threaded HTTP server keeps the example free of a web framework; a real
application would use Flask or FastAPI behind gunicorn or uvicorn, and deploy the same way.
"""

import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import create_engine, text

from notes import VERSION

engine = create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self._health()
        elif self.path == "/notes":
            with engine.connect() as db:
                rows = db.execute(text("SELECT id, text FROM notes ORDER BY id")).mappings()
                self._send(200, {"notes": [dict(row) for row in rows]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/notes":
            self._send(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            note = json.loads(self.rfile.read(length))["text"]
        except (ValueError, KeyError, TypeError):
            self._send(400, {"error": 'expected {"text": "..."}'})
            return
        with engine.begin() as db:
            new_id = db.execute(
                text("INSERT INTO notes (text) VALUES (:text) RETURNING id"), {"text": note}
            ).scalar()
        self._send(201, {"id": new_id})

    def _health(self):
        try:
            with engine.connect() as db:
                schema = db.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception as error:  # noqa: BLE001 - any database problem means unhealthy
            self._send(503, {"status": "unavailable", "error": type(error).__name__})
            return
        self._send(200, {"status": "ok", "version": VERSION, "schema": schema})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        print(f"{self.address_string()} {format % args}", flush=True)


class Server(ThreadingHTTPServer):
    daemon_threads = False  # on stop, server_close() waits for the requests in flight


def stop_on_sigterm(server):
    """Stop serving at `docker stop`: a container's PID 1 ignores SIGTERM unless it handles
    it, and every deploy's swap would then wait out stop_grace_period (10 s) for the SIGKILL."""
    stopping = threading.Thread(target=server.shutdown)  # shutdown() waits for serve_forever

    def on_sigterm(signum, frame):
        if stopping.ident is None:  # a second SIGTERM changes nothing
            stopping.start()

    signal.signal(signal.SIGTERM, on_sigterm)


if __name__ == "__main__":
    server = Server(("0.0.0.0", 8000), Handler)  # noqa: S104 - in its container
    stop_on_sigterm(server)
    server.serve_forever()
    server.server_close()
