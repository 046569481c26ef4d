"""Burst: 20 signed pushes to one environment within 2 s; how many deploys run, what is live.

    .venv/bin/python bench/burst/run.py [--pushes 20] [--seconds 2]

The Docker test bed's sample app at v1; `deployhook serve` (gunicorn) and `deployhook worker`
as real processes; PUSHES commits pushed to the sample app's origin, then one signed GitHub
push delivery per commit, evenly spread over SECONDS, in commit order. When every deploy has
finished: how many ran (the rest must be superseded), and which commit is checked out and
serving. Expected: at most 2 ran (the one already running when the burst began, and the
newest), and the newest commit is live. Loopback only.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.bed import Bed, on_sample_bed  # noqa: E402
from jobs.state.records import FINAL_STATES, DeployStore  # noqa: E402
from tests.support.deliveries import payload  # noqa: E402
from tests.support.deploying import SECRET, wait_for, write_config  # noqa: E402
from tests.support.web import DEPLOYHOOK, free_port, running  # noqa: E402

MAX_RUN = 2


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    def body(bed: Bed) -> int:
        shas = [
            bed.app.commit({"burst.txt": f"push {n}\n"}, f"Burst push {n}")
            for n in range(1, args.pushes + 1)
        ]
        config = write_config(bed.config(), bed.scratch / "deployhook.yml")
        return burst(bed, config, [bed.app.v1, *shas], args.seconds)

    return on_sample_bed("bench-burst-", body)


def burst(bed: Bed, config: Path, shas: list[str], seconds: float) -> int:
    port = free_port()
    env = {"DEPLOYHOOK_CONFIG": str(config)}
    serve = [*DEPLOYHOOK, "serve", "--config", str(config), "--bind", f"127.0.0.1:{port}"]
    worker_log = (bed.scratch / "worker.log").open("ab")
    worker = subprocess.Popen(
        [*DEPLOYHOOK, "worker", "--config", str(config)],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=worker_log,
        stderr=worker_log,
    )
    try:
        with running(serve, env, f"http://127.0.0.1:{port}", log=bed.scratch / "serve.log"):
            started = time.monotonic()
            gap = seconds / max(len(shas) - 2, 1)  # first delivery at 0 s, last at `seconds`
            ids = [
                _deliver(port, before, after, started + n * gap)
                for n, (before, after) in enumerate(itertools.pairwise(shas))
            ]
            spread = time.monotonic() - started
            store = DeployStore(bed.redis)
            wait_for(lambda: all(store.get(i).state in FINAL_STATES for i in ids), 900, "deploys")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        worker_log.close()
    return report(bed, ids, shas[-1], spread)


def _deliver(port: int, before: str, after: str, at: float) -> str:
    """One signed GitHub push delivery of `after`, sent at monotonic time `at`."""
    body = payload("github-push.json")
    body["repository"].update(full_name="acme/sample", html_url="https://example.com/acme/sample")
    body.update(ref="refs/heads/main", before=before, after=after)
    body["head_commit"]["id"] = after
    raw = json.dumps(body, separators=(",", ":")).encode()
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": f"burst-{after}",
        "X-Hub-Signature-256": f"sha256={digest}",
    }
    time.sleep(max(0.0, at - time.monotonic()))
    url = f"http://127.0.0.1:{port}/hooks/sample"
    answer = requests.post(url, data=raw, headers=headers, timeout=10)
    if answer.status_code != 202:
        raise SystemExit(f"expected 202 for {after[:12]}, got {answer.status_code} {answer.text}")
    deploy_id: str = answer.json()["deploy_id"]
    return deploy_id


def report(bed: Bed, ids: list[str], newest: str, spread: float) -> int:
    store = DeployStore(bed.redis)
    records = [store.get(i) for i in ids]
    states = Counter(record.state for record in records)
    ran = [record for record in records if record.started_at is not None]
    live = bed.app.checked_out()
    print(f"{len(ids)} pushes delivered in {spread:.2f} s; outcomes: {dict(states)}")
    for record in ran:
        print(f"  ran: {record.id} {record.short_sha} -> {record.state}")
    print(f"checked out: {live[:12]}; newest pushed: {newest[:12]}")
    checks = {
        f"at most {MAX_RUN} deploys ran (got {len(ran)})": len(ran) <= MAX_RUN,
        "the newest push is checked out": live == newest,
        "the newest push's deploy succeeded": records[-1].state == "succeeded",
        "every other push was superseded or succeeded": set(states) <= {"superseded", "succeeded"},
    }
    for text, passed in checks.items():
        print(f"{'PASS' if passed else 'MISS'}  {text}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
