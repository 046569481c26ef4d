"""The baseline: a bare Flask app that only checks the HMAC and enqueues an RQ job."""

from __future__ import annotations

import hashlib
import hmac
import os

from flask import Flask, request
from redis import Redis
from rq import Queue


def create_app() -> Flask:
    app = Flask("bare")
    secret = os.environ["BENCH_SECRET"].encode()
    queue = Queue("bare", connection=Redis.from_url(os.environ["BENCH_REDIS_URL"]))

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"ok": "ok"}

    @app.post("/hooks/<project>")
    def receive(project: str) -> tuple[dict[str, str], int]:
        body = request.get_data()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected):
            return {"error": "bad signature"}, 401
        job = queue.enqueue_call("builtins.len", args=(request.headers["X-GitHub-Delivery"],))
        return {"job": job.id}, 202

    return app
