"""Intake benchmark: deployhook vs a bare HMAC+RQ Flask app vs adnanh/webhook, same load.

    .venv/bin/python bench/intake/run.py [--seconds 10] [--connections 32] [--rounds 3]

Starts a private redis-server; then, taking the four apps in turn in each round (the order
reversed every other round, so no app always runs first or last on this shared machine): the
app on 127.0.0.1 (the two Flask apps under gunicorn with webhook/gunicorn.conf.py), wrk driving
signed ~7 KB GitHub push deliveries with unique delivery ids, then a count of the queued jobs.
Prints requests/s, p50 and p99 per run, the medians, the throughput ratio against the bare app
of each round and the median of those ratios (a ratio of medians mixes rounds run under
different load), and the same for the p99 against adnanh/webhook (as configured by default,
answering before its command ends; and, for information, waiting for it). `--apps` limits the
run to some of the apps (deployhook and bare are always in). Loopback only.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import adnanh  # noqa: E402
import redis  # noqa: E402
from rq import Queue  # noqa: E402

from tests.support.deliveries import SECRETS, config_text, payload  # noqa: E402
from tests.support.redis_server import running_redis  # noqa: E402
from tests.support.web import free_port, running  # noqa: E402
from webhook.deliveries import delivery_counts  # noqa: E402

SECRET = SECRETS["GITHUB_SECRET"]
BODIES = 2000
P99_TARGET_MS = 20.0
RATIO_TARGET = 0.9
PEER_P99_SHARE = 0.25  # deployhook's p99 at most a quarter of adnanh/webhook's
Result = dict[str, float]


@dataclass(frozen=True)
class App:
    argv: list[str]
    queue: str | None  # the RQ queue it fills; adnanh/webhook runs a command instead
    health: str = "/healthz"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both apps")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gunicorn", default="", help="extra gunicorn options for both apps")
    parser.add_argument(
        "--apps", default="deployhook,bare,adnanh,adnanh-wait", help="comma-separated apps"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as scratch:
        work = Path(scratch)
        data = write_deliveries(work / "deliveries.tsv")
        config = work / "deployhook.yml"
        config.write_text(config_text(work))
        with running_redis(work) as redis_url:
            results = measure(args, work, config, data, redis_url)
    return verdict(results, args.connections)


def measure(
    args: argparse.Namespace, work: Path, config: Path, data: Path, redis_url: str
) -> dict[str, list[Result]]:
    connection = redis.Redis.from_url(redis_url)
    env = {
        **SECRETS,
        "DEPLOYHOOK_REDIS_URL": redis_url,
        "DEPLOYHOOK_CONFIG": str(config),
        "BENCH_SECRET": SECRET,
        "BENCH_REDIS_URL": redis_url,
        "GUNICORN_CMD_ARGS": args.gunicorn,  # read by gunicorn for both apps
    }
    hooks = adnanh.write_hooks(work / "hooks.json", SECRET)
    waiting_hooks = adnanh.write_hooks(work / "hooks-wait.json", SECRET, wait=True)
    gunicorn_config = str(ROOT / "webhook" / "gunicorn.conf.py")

    def apps(port: int) -> dict[str, App]:
        bind = ["--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)]
        bare = [sys.executable, "-m", "gunicorn", "--config", gunicorn_config, *bind]
        return {
            "deployhook": App(
                [sys.executable, "-m", "webhook.cli", "serve", "--config", str(config), *bind],
                "deploys.local",
            ),
            "bare": App([*bare, "--chdir", str(HERE), "bare_app:create_app()"], "bare"),
            "adnanh": App(adnanh.command(hooks, port), None, health="/"),
            "adnanh-wait": App(adnanh.command(waiting_hooks, port), None, health="/"),
        }

    chosen = {"deployhook", "bare", *args.apps.split(",")}
    results: dict[str, list[Result]] = {name: [] for name in apps(0) if name in chosen}
    for number in range(args.rounds):
        order = list(results) if number % 2 == 0 else list(reversed(results))
        print(f"round {number + 1}: {', '.join(order)}")
        for name in order:
            connection.flushall()
            # A fresh port each time: the previous server's socket may linger a moment.
            port = free_port()
            app, url = apps(port)[name], f"http://127.0.0.1:{port}"
            with running(app.argv, env, url, log=work / f"{name}.log", health_path=app.health):
                if app.queue is None:
                    adnanh.check_refuses_bad_signatures(port, *first_delivery(data))
                result = drive(port, data, name, args)
            if app.queue is not None:
                result["queued"] = Queue(app.queue, connection=connection).count
            result["accepted"] = delivery_counts(connection).get("github:accepted", -1)
            results[name].append(result)
            report(name, result)
    return results


def write_deliveries(path: Path) -> Path:
    """BODIES distinct pushes (different commits), compact JSON as GitHub sends, signed."""
    template = payload("github-push.json")
    size = 0
    with path.open("w") as out:
        for _ in range(BODIES):
            template["after"] = template["head_commit"]["id"] = secrets.token_hex(20)
            body = json.dumps(template, separators=(",", ":"))
            digest = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
            out.write(f"{digest}\t{body}\n")
            size = len(body.encode())
    print(f"{BODIES} signed deliveries of {size} bytes each")
    return path


def first_delivery(data: Path) -> tuple[str, str]:
    """The first delivery's body and signature header, as wrk sends them."""
    digest, body = data.read_text().split("\n", 1)[0].split("\t", 1)
    return body, f"sha256={digest}"


def drive(port: int, data: Path, label: str, args: argparse.Namespace) -> Result:
    argv = [
        "wrk", "--latency", "-t", str(args.threads), "-c", str(args.connections),
        "-d", f"{args.seconds}s", "-s", str(HERE / "deliveries.lua"),
        f"http://127.0.0.1:{port}", "--", str(data), f"{label}-{secrets.token_hex(4)}",
    ]  # fmt: skip
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    result: Result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def report(name: str, result: Result) -> None:
    print(
        f"{name:>10}: {result['rps']:7.1f} req/s  p50 {result['p50_us'] / 1000:6.2f} ms  "
        f"p99 {result['p99_us'] / 1000:6.2f} ms  2xx {result['ok']:.0f}  "
        f"non-2xx {result['non_2xx']:.0f}  socket errors {result['socket_errors']:.0f}  "
        f"queued jobs {result.get('queued', float('nan')):.0f}"
    )


def verdict(results: dict[str, list[Result]], connections: int) -> int:
    """Medians over the rounds, and the checks: jobs match answers, p99, the two ratios."""

    def median(name: str, key: str) -> float:
        return statistics.median(result[key] for result in results[name])

    def round_ratios(name: str, key: str, baseline: str) -> list[float]:
        pairs = zip(results[name], results[baseline], strict=True)
        return [ours[key] / theirs[key] for ours, theirs in pairs]

    for name in results:
        rps, p50, p99 = (median(name, key) for key in ("rps", "p50_us", "p99_us"))
        print(f"median {name:>10}: {rps:7.1f} req/s", end="  ")
        print(f"p50 {p50 / 1000:6.2f} ms  p99 {p99 / 1000:6.2f} ms")
    ratios = round_ratios("deployhook", "rps", "bare")
    ratio = statistics.median(ratios)
    print("throughput deployhook/bare per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"median of the per-round ratios: {ratio:.2f}x")
    p99 = median("deployhook", "p99_us") / 1000
    peer = "adnanh" in results
    peer_ratios = round_ratios("deployhook", "p99_us", "adnanh") if peer else [float("nan")]
    peer_share = statistics.median(peer_ratios)
    if peer:
        print("p99 deployhook/adnanh per round: " + ", ".join(f"{r:.2f}" for r in peer_ratios))
    # wrk stops with up to one request per connection in flight: the server still answers
    # (and queues) those, but wrk no longer counts the answers.
    queued = [run for name in results for run in results[name] if "queued" in run]
    jobs_match = all(0 <= run["queued"] - run["ok"] <= connections for run in queued) and all(
        run["queued"] == run["accepted"] for run in results["deployhook"]
    )
    refused = sum(
        run["non_2xx"] + run["socket_errors"] for runs in results.values() for run in runs
    )
    checks = {
        "every 2xx queued one job (jobs = 2xx + answers in flight when wrk stopped; "
        "deployhook: jobs = accepted deliveries counted)": jobs_match,
        f"no errors or non-2xx answers from any app (got {refused:.0f})": refused == 0,
        f"p99 {p99:.2f} ms < {P99_TARGET_MS:.0f} ms": p99 < P99_TARGET_MS,
        f"throughput: median per-round ratio {ratio:.2f}x bare >= {RATIO_TARGET}x": ratio
        >= RATIO_TARGET,
    }
    if peer:
        text = f"p99: median per-round ratio {peer_share:.2f}x adnanh/webhook's <= "
        checks[text + f"{PEER_P99_SHARE}x"] = peer_share <= PEER_P99_SHARE
    for text, passed in checks.items():
        print(f"{'PASS' if passed else 'MISS'}  {text}")
    if "adnanh-wait" in results:
        waiting = statistics.median(round_ratios("deployhook", "p99_us", "adnanh-wait"))
        print(f"info  p99 {waiting:.2f}x adnanh/webhook's when it waits for the command")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
