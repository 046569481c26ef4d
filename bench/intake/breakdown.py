"""Where an intake request's time goes, in-process (no HTTP server, no wrk).

    .venv/bin/python bench/intake/breakdown.py

Measures, against a private redis-server, the per-request cost of deployhook's route and of
the bare app through Flask's test client, and of the Redis-side pieces on their own: the
transactional `jobs.state.submit`, a plain RQ enqueue, the metrics HINCRBY. Best of several batches,
because this machine is shared.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE)]

import redis  # noqa: E402
from rq import Queue  # noqa: E402

from jobs.state.submit import DeployRequest, submit  # noqa: E402
from tests.support.deliveries import (  # noqa: E402
    SECRETS,
    encode,
    github_headers,
    make_settings,
    payload,
)
from tests.support.redis_server import running_redis  # noqa: E402
from webhook.app import create_app  # noqa: E402
from webhook.deliveries import count_delivery  # noqa: E402

BATCH = 300
BATCHES = 5


def best_ms(step: Callable[[int], object]) -> float:
    """Best per-call time in ms over BATCHES batches of BATCH calls of step(i)."""
    best = float("inf")
    counter = 0
    for _ in range(BATCHES):
        start = time.perf_counter()
        for _ in range(BATCH):
            counter += 1
            step(counter)
        best = min(best, (time.perf_counter() - start) / BATCH * 1000)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-breakdown-") as scratch:
        work = Path(scratch)
        with running_redis(work) as url:
            connection = redis.Redis.from_url(url)
            settings = make_settings(work, url)
            os.environ.update(BENCH_SECRET=SECRETS["GITHUB_SECRET"], BENCH_REDIS_URL=url)
            import bare_app

            ours = create_app(settings).test_client()
            bare = bare_app.create_app().test_client()
            with open(os.devnull, "w") as sink:
                for handler in logging.getLogger("deployhook").handlers:
                    if isinstance(handler, logging.StreamHandler):
                        handler.setStream(sink)  # log lines still formatted and written
                body = encode(payload("github-push.json"))
                request = DeployRequest("crm", "dev", "branch", "main", "a" * 40, "github push")
                queue = Queue("bare", connection=connection)
                figures = {
                    "deployhook route, whole request": best_ms(
                        lambda _: ours.post("/hooks/crm", data=body, headers=github_headers(body))
                    ),
                    "bare app, whole request": best_ms(
                        lambda _: bare.post("/hooks/crm", data=body, headers=github_headers(body))
                    ),
                    "jobs.state.submit (one deploy)": best_ms(
                        lambda i: submit(connection, settings, [request], f"k{uuid.uuid4()}")
                    ),
                    "plain RQ enqueue": best_ms(
                        lambda _: queue.enqueue_call("builtins.len", args=("abc",))
                    ),
                    "metrics HINCRBY": best_ms(
                        lambda _: count_delivery(connection, "github", "accepted")
                    ),
                    "Redis PING (one round trip)": best_ms(lambda _: connection.ping()),
                }
    for name, ms in figures.items():
        print(f"{name:34} {ms:6.3f} ms")


if __name__ == "__main__":
    main()
