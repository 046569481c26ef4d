"""What the replica wait costs the intake: `redis.sentinel` (WAIT 1) vs `redis.url`, same load.

    .venv/bin/python bench/intake/replicated.py [--seconds 10] [--connections 32] [--rounds 4]

Starts a Sentinel bed (Debian's redis-server: a master and two replicas; three
redis-sentinel), then in each round, the order reversed every other round: `deployhook serve`
with `redis.url` at the master (no wait: the single-Redis behaviour) and with `redis.sentinel`
(the default: a 202 waits until one replica holds the delivery), each driven by wrk with
signed ~7 KB GitHub pushes as in run.py. Prints requests/s, p50, p99 and the per-round ratios
sentinel/url, and their medians. Loopback only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import yaml  # noqa: E402
from rq import Queue  # noqa: E402
from run import Result, drive, report, write_deliveries  # noqa: E402

from tests.support.deliveries import SECRETS, config_text  # noqa: E402
from tests.support.sentinel_bed import sentinel_bed  # noqa: E402
from tests.support.web import free_port, running  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-replicated-") as scratch:
        work = Path(scratch)
        data = write_deliveries(work / "deliveries.tsv")
        with sentinel_bed(work / "redis", replicas=2) as bed:
            master = bed.master()
            sections = {
                "url": {"url": f"redis://{master.address}/0"},
                "sentinel": bed.config(),
            }
            configs = {}
            for name, section in sections.items():
                configs[name] = work / f"{name}.yml"
                configs[name].write_text(config_text(work) + yaml.safe_dump({"redis": section}))
            results: dict[str, list[Result]] = {name: [] for name in sections}
            for number in range(args.rounds):
                order = list(results) if number % 2 == 0 else list(reversed(results))
                print(f"round {number + 1}: {', '.join(order)}")
                for name in order:
                    master.client().flushall()
                    port = free_port()
                    argv = [sys.executable, "-m", "webhook.cli", "serve"]
                    argv += ["--config", str(configs[name]), "--bind", f"127.0.0.1:{port}"]
                    argv += ["--workers", str(args.workers)]
                    url = f"http://127.0.0.1:{port}"
                    with running(argv, SECRETS, url, log=work / f"{name}.log"):
                        result = drive(port, data, name, args)
                    result["queued"] = Queue("deploys.local", connection=master.client()).count
                    results[name].append(result)
                    report(name, result)
    return verdict(results)


def verdict(results: dict[str, list[Result]]) -> int:
    for name, runs in results.items():
        rps, p50, p99 = (statistics.median(r[k] for r in runs) for k in ("rps", "p50_us", "p99_us"))
        latency = f"p50 {p50 / 1000:6.2f} ms  p99 {p99 / 1000:6.2f} ms"
        print(f"median {name:>9}: {rps:7.1f} req/s  {latency}")
    for key, label in (("rps", "throughput"), ("p50_us", "p50"), ("p99_us", "p99")):
        ratios = [s[key] / u[key] for s, u in zip(results["sentinel"], results["url"], strict=True)]
        shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"{label} sentinel/url per round: {shown}; median {statistics.median(ratios):.2f}x")
    refused = sum(r["non_2xx"] + r["socket_errors"] for runs in results.values() for r in runs)
    print(f"{'PASS' if refused == 0 else 'MISS'}  no errors or non-2xx answers (got {refused:.0f})")
    return 0 if refused == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
