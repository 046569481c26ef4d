"""Web-tier benchmark: signed pushes while 50 live-log watchers and 50 slow uploads hold on.

    .venv/bin/python bench/webtier/run.py [--watchers 50] [--uploads 50] [--pushes 200]
                                          [--rounds 3] [--gthread]

Starts a private redis-server and `deployhook serve` (gunicorn with webhook/gunicorn.conf.py,
2 workers) on 127.0.0.1. Each round times `--pushes` signed GitHub pushes (4 client threads,
each a new commit, so every answer is a 202) twice: "quiet", nothing else connected (the
baseline), and "crowd", with the watchers following a queued deploy's live log and the
uploads trickling a 64 KB body one byte every 0.5 s; the order alternates round to round.
Prints p50/p99/max per run, the crowd/quiet p99 ratio per round and the medians.
`--gthread` adds, for comparison, one crowd run against the old gthread worker (8 threads),
with a 5 s cap per push. Loopback only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path[:0] = [str(ROOT)]

from tests.support.crowd import crowd  # noqa: E402
from tests.support.deliveries import (  # noqa: E402
    SECRETS,
    config_text,
    encode,
    github_headers,
    payload,
)
from tests.support.redis_server import running_redis  # noqa: E402
from tests.support.web import DEPLOYHOOK, free_port, running  # noqa: E402

CAP_SECONDS = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--watchers", type=int, default=50)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gthread", action="store_true", help="also one crowd run on gthread")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-webtier-") as scratch:
        work = Path(scratch)
        config = work / "deployhook.yml"
        config.write_text(config_text(work) + "server: {workers: 2}\n")
        with running_redis(work) as redis_url:
            env = {**SECRETS, "DEPLOYHOOK_REDIS_URL": redis_url}
            ratios = measure(args, config, env, work)
            if args.gthread:
                gthread(args, config, env, work)
    print(f"median crowd/quiet p99 ratio: {statistics.median(ratios):.2f}")
    return 0


def measure(args: argparse.Namespace, config: Path, env: dict[str, str], work: Path) -> list[float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [*DEPLOYHOOK, "serve", "--config", str(config), "--bind", f"127.0.0.1:{port}"]
    ratios: list[float] = []
    p99s: dict[str, list[float]] = {"quiet": [], "crowd": []}
    with running(argv, env, base, log=work / "serve.log"):
        deploy_id = push(base)[1]
        for number in range(args.rounds):
            order = ["quiet", "crowd"] if number % 2 == 0 else ["crowd", "quiet"]
            p99: dict[str, float] = {}
            for phase in order:
                if phase == "crowd":
                    with crowd(port, deploy_id, args.watchers, args.uploads):
                        times = pushes(base, args.pushes)
                else:
                    times = pushes(base, args.pushes)
                p99[phase] = show(f"round {number + 1} {phase}", times)
                p99s[phase].append(p99[phase])
            ratios.append(p99["crowd"] / p99["quiet"])
            print(f"round {number + 1}: crowd/quiet p99 = {ratios[-1]:.2f}")
    for phase, values in p99s.items():
        print(f"median p99 {phase}: {statistics.median(values) * 1000:.1f} ms")
    return ratios


def gthread(args: argparse.Namespace, config: Path, env: dict[str, str], work: Path) -> None:
    """The same crowd against the worker class this replaced, pushes capped at 5 s."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "webhook/gunicorn.conf.py"),
            "--worker-class", "gthread", "--threads", "8", "--bind", f"127.0.0.1:{port}",
            "webhook:create_app()"]  # fmt: skip
    with running(argv, {**env, "DEPLOYHOOK_CONFIG": str(config)}, base, log=work / "gt.log"):
        deploy_id = push(base)[1]
        with crowd(port, deploy_id, args.watchers, args.uploads):
            show("gthread crowd (capped at 5 s)", pushes(base, 8))


def push(base: str) -> tuple[float, str]:
    data = payload("github-push.json")
    data["after"] = os.urandom(20).hex()
    body = encode(data)
    began = time.monotonic()
    try:
        answer = requests.post(
            f"{base}/hooks/crm", data=body, headers=github_headers(body), timeout=CAP_SECONDS
        )
    except requests.Timeout:
        return CAP_SECONDS, ""
    took = time.monotonic() - began
    if answer.status_code != 202:
        raise SystemExit(f"push answered {answer.status_code}: {answer.text[:200]}")
    return took, str(answer.json()["deploy_id"])


def pushes(base: str, count: int) -> list[float]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return [took for took, _ in pool.map(lambda _: push(base), range(count))]


def show(label: str, times: list[float]) -> float:
    ordered = sorted(times)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, round(len(ordered) * 0.99) - 1)]
    print(
        f"{label}: {len(times)} pushes, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )
    return p99


if __name__ == "__main__":
    sys.exit(main())
