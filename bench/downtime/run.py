"""Failed requests and the longest gap through a real Caddy while a good release deploys.

    .venv/bin/python bench/downtime/run.py [--rounds 5] [--no-migrate] [--logs DIR]

The proxied sample stack (api + worker + PostgreSQL behind Caddy on a Compose bridge network,
tests/sample_app/docker-compose.proxy.yml) at v1. Each round deploys three good commits, each
a new VERSION and a new (trivial) alembic migration, in an order that rotates round to round:

- zero: deployhook with `zero_downtime: [api]`, `migrate.when: before_swap` and `health.port`
  (the release is judged on its own container while the old one drains);
- recreate: deployhook as before (`compose up` recreates the api, migration after the swap);
- runbook: the seed's by hand: `git checkout`, `compose up -d --build`,
  `compose exec api alembic upgrade head`, then poll until the health URL answers 200.

A client GETs /api/v1/version through Caddy every 20 ms during each deploy. Printed per deploy:
failed requests (anything but a 200, or no answer), the longest gap between two 200s, and the
deploy's time (deployhook: queued to its final state, succeeded, in an in-process worker;
runbook: the commands plus the wait for health) and, for deployhook, until the worker released
the environment's lock (zero: its old containers have drained and gone). Goal: zero has 0
failed in every round and takes at most 1.2x the time of recreate (per-round ratios, median
reported, for both times; its ratios against the runbook are printed too). Loopback only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import redis

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench.bed import machine  # noqa: E402
from config import Settings  # noqa: E402
from jobs.state.records import Deploy, DeployStore  # noqa: E402
from tests.support.deploying import config_for, deploy  # noqa: E402
from tests.support.docker_engine import running_engine  # noqa: E402
from tests.support.docker_fixtures import POINTED, find_compose  # noqa: E402
from tests.support.images import build_caddy_image, import_base_image  # noqa: E402
from tests.support.proxied_app import Load, ProxiedApp  # noqa: E402
from tests.support.redis_server import running_redis  # noqa: E402
from tests.support.sample_scenarios import next_migration  # noqa: E402

MODES = ("zero", "recreate", "runbook")
TIME_TARGET = 1.2


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--logs", type=Path, help="write each deploy's log into this directory")
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="code-only releases, and no migration configured in any mode",
    )
    args = parser.parse_args()
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
    print(machine())
    with (
        tempfile.TemporaryDirectory(prefix="bench-downtime-") as scratch,
        running_engine() as engine,
    ):
        os.environ.update({name: engine.env[name] for name in POINTED})
        base = import_base_image(engine.env)
        images = (base, build_caddy_image(engine.env, base))
        with running_redis(Path(scratch)) as redis_url:
            root = Path(scratch) / "app"
            root.mkdir()
            app = ProxiedApp.create_proxied(engine, find_compose(engine), images, root)
            try:
                connection = redis.Redis.from_url(redis_url)
                return measure(
                    app,
                    connection,
                    redis_url,
                    Path(scratch),
                    (args.rounds, not args.no_migrate),
                    args.logs,
                )
            finally:
                app.stop()


def measure(
    app: ProxiedApp,
    connection: redis.Redis,
    redis_url: str,
    scratch: Path,
    plan: tuple[int, bool],  # rounds, and whether each release has a migration
    logs: Path | None,
) -> int:
    rounds, migrations = plan
    state = scratch / "state"
    zero_env = app.environment_config()
    # The api's port: the health stage reads the release on its own container while the old
    # one drains, so the drain is not on the deploy's critical path (docs/zero-downtime.md).
    zero_env["health"] = {**zero_env["health"], "port": 8000}
    recreate_env = app.environment_config(
        zero_downtime=[], migrate={"service": "api", "command": ["alembic", "upgrade", "head"]}
    )
    if not migrations:  # a stack without migrations: nothing runs before or after the swap
        zero_env.pop("migrate")
        recreate_env.pop("migrate")
    zero = Settings.model_validate(config_for(zero_env, state, redis_url))
    recreate = Settings.model_validate(config_for(recreate_env, state, redis_url))
    results: dict[str, list[Row]] = {mode: [] for mode in MODES}
    number = 0
    last: dict[str, str] = {}  # mode -> where the time of its last deploy went
    for round_number in range(rounds):
        order = MODES[round_number % 3 :] + MODES[: round_number % 3]
        for mode in order:
            number += 1
            sha = release(app, number, migrations)
            with Load(app.api_port, interval=0.02, timeout=5) as load:
                started, wall = time.monotonic(), time.time()
                if mode == "runbook":
                    runbook(app, sha, migrations)
                else:
                    record = deploy(zero if mode == "zero" else recreate, connection, sha)
                    if record.state != "succeeded":
                        raise SystemExit(
                            f"{mode}: expected succeeded, got {record.state}: {record.error}"
                        )
                released = time.monotonic() - started
                # The final state's time: the lock is released after it (zero: after the drain).
                took = released
                if mode != "runbook" and record.finished_at is not None:
                    took = _epoch(record.finished_at) - wall
                time.sleep(0.5)  # answers right after the deploy count too
            results[mode].append(Row(len(load.failed), load.sent, load.longest_gap, took, released))
            if mode != "runbook":
                last[mode] = stage_times(record)
                if logs is not None:  # where the time went, line by line
                    write_logs(logs / f"{number:02d}-{mode}", DeployStore(connection), record)
            failed = f"{len(load.failed):4d} of {load.sent:4d} failed"
            print(
                f"round {round_number + 1} {mode:8}: {failed}, "
                f"longest gap {load.longest_gap:6.2f} s, deploy {took:6.1f} s "
                f"(lock released at {released:5.1f} s), load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    for mode, stages in last.items():
        print(f"last {mode} deploy, seconds per stage: {stages}")
    return summary(results)


def write_logs(stem: Path, store: DeployStore, record: Deploy) -> None:
    """The deploy's log, and its commands timed to the millisecond from the deploy's start:
    `+start duration argv` (what overlaps shows)."""
    stem.with_suffix(".log").write_text("\n".join(store.log(record.id)) + "\n")
    commands = store.commands(record.id)
    origin = min((c["started"] for c in commands), default=0.0)
    timed = [
        f"+{c['started'] - origin:7.3f} {c['duration']:6.3f}s {' '.join(c['argv'])[:160]}"
        for c in commands
    ]
    stem.with_suffix(".commands").write_text("\n".join(timed) + "\n")


def stage_times(record: Deploy) -> str:
    return ", ".join(
        f"{stage.name} {_epoch(stage.finished_at) - _epoch(stage.started_at):.1f}"
        for stage in record.stages
        if stage.finished_at is not None
    )


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Row(NamedTuple):
    failed: int
    sent: int
    gap: float
    took: float  # to the final state
    released: float  # to the lock's release (the runbook: the same as took)


def summary(results: dict[str, list[Row]]) -> int:
    print()
    for mode in MODES:
        rows = results[mode]
        gaps = [row.gap for row in rows]
        print(
            f"{mode:8}: failed {[row.failed for row in rows]}, longest gap median "
            f"{statistics.median(gaps):.2f} s (max {max(gaps):.2f}), "
            f"deploy median {statistics.median(row.took for row in rows):.1f} s, "
            f"lock released median {statistics.median(row.released for row in rows):.1f} s"
        )
    ratios = _ratios(results, "recreate", "took")
    ratio = statistics.median(ratios)
    zero_failed = sum(row.failed for row in results["zero"])
    met = zero_failed == 0 and ratio <= TIME_TARGET
    print(
        f"{'PASS' if met else 'MISS'}  zero-downtime: {zero_failed} failed in all; deploy time "
        f"{ratio:.2f}x recreate (per-round ratios {_listed(ratios)}; "
        f"target 0 failed and <= {TIME_TARGET:.1f}x)"
    )
    released = _ratios(results, "recreate", "released")
    print(
        f"      until the lock is released: {statistics.median(released):.2f}x recreate "
        f"(per-round ratios {_listed(released)})"
    )
    runbook = _ratios(results, "runbook", "took")
    print(
        f"      zero-downtime against the runbook: {statistics.median(runbook):.2f}x "
        f"(per-round ratios {_listed(runbook)})"
    )
    return 0 if met else 1


def _ratios(results: dict[str, list[Row]], baseline: str, time: str) -> list[float]:
    """zero's `time` (took or released) over `baseline`'s, round by round."""
    pairs = zip(results["zero"], results[baseline], strict=True)
    return [getattr(zero, time) / getattr(other, time) for zero, other in pairs]


def _listed(ratios: list[float]) -> str:
    return ", ".join(f"{r:.2f}" for r in ratios)


def release(app: ProxiedApp, number: int, migration: bool) -> str:
    """A good commit: a new VERSION and (`migration`) a migration that changes nothing."""
    files: dict[str, str | None] = {"VERSION": f"bench-{number}\n"}
    if migration:
        body = '    op.execute("SELECT 1")'
        doc = "A release's migration."
        files |= next_migration(app.author, f"noop_{number}", doc, body, "main")
    return app.commit(files, f"Release {number}")


def runbook(app: ProxiedApp, sha: str, migration: bool) -> None:
    """The seed's runbook: checkout, `up -d --build`, migrate, then wait until healthy."""
    app.check_out(sha)
    app.compose_ok("up", "-d", "--build")
    if migration:
        app.compose_ok("exec", "-T", "api", "alembic", "upgrade", "head")
    app.wait_healthy(120)


if __name__ == "__main__":
    sys.exit(main())
