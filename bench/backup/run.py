"""Backup and restore of a ~1 GB database: deployhook's stages vs raw pg_dump | gzip and psql.

    .venv/bin/python bench/backup/run.py [--megabytes 1024] [--rounds 2] [--restore-only]

The Docker test bed's sample app; its PostgreSQL gets a table of about MEGABYTES of random
text (generate_series + md5 of random(), which compresses about as well as real text). Then,
taking the two sides in turn in each round:

- backup: jobs.runbook.stages.backup.take_backup through a real DeployContext (pg_dump
  --format=custom --compress=1 inside the postgres container, `pg_restore --list` over the result,
  fsync, rename) against `compose exec -T postgres pg_dump | gzip > file`; and, for the record, the
  custom-format dump alone at pg_dump's default compression level (6);
- restore: jobs.database.dumps.restore_backup of that backup against `gunzip -c file |
  compose exec -T postgres psql --single-transaction`, each after the same DROP OWNED (the sample
  app's role cannot create databases, so this is the path deployhook takes too).

--restore-only (issue 10 item 6, target <= 0.6x): one backup of each kind, then only the
restores, order rotating, as many rounds as asked (a restore round is ~30 s, not ~3 min).
With --role createdb (the app's role gets CREATEDB, as the official image's POSTGRES_USER has
it) the restore goes through a standby (jobs/database/standby.py), timed two ways:
  - prepared: the standby was restored in the background beforehand, as a deploy does from its
    backup stage on; timed is what a revert then waits for (jobs.database.restore_database:
    the wait, stopping the writers, the swap transaction);
  - cold: no head start (prepare_restore: false, or a revert straight after the backup): the
    whole restore into the standby plus the swap;
against DROP OWNED + gunzip | psql --single-transaction. The database renamed aside each time
is dropped untimed (a deploy dumps it once the previous version serves again: printed once).

The API is stopped first (a writer would hold locks on the tables). Prints seconds, sizes and
the ratios; target <= 1.10x each. Loopback only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench.bed import Bed, on_sample_bed, ratio_line, seconds  # noqa: E402
from jobs.database.dumps import restore_backup  # noqa: E402
from jobs.database.keep import dump_kept_aside  # noqa: E402
from jobs.database.restore import restore_database  # noqa: E402
from jobs.database.standby import prepare  # noqa: E402
from jobs.execution.context import DeployContext, new_context  # noqa: E402
from jobs.execution.deploylog import DeployLog  # noqa: E402
from jobs.runbook.stages.backup import take_backup  # noqa: E402
from jobs.state.records import Deploy, DeployStore, new_deploy_id  # noqa: E402

TARGET = 1.10
ROW_BYTES = 230  # an integer and 192 characters of hex, with PostgreSQL's per-row overhead
PSQL = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "app", "-d", "app"]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--restore-only", action="store_true")
    parser.add_argument("--role", choices=("owner", "createdb"), default="owner")
    args = parser.parse_args()

    def body(bed: Bed) -> int:
        bed.app.compose_ok("stop", "api")
        fill(bed, args.megabytes)
        if args.role == "createdb":
            as_superuser(bed, "ALTER ROLE app CREATEDB")
            return measure_standby(bed, args.rounds)
        if args.restore_only:
            return measure_restore(bed, args.rounds)
        return measure(bed, args.rounds)

    return on_sample_bed("bench-backup-", body)


def fill(bed: Bed, megabytes: int) -> None:
    rows = megabytes * 1024 * 1024 // ROW_BYTES
    body = " || ".join(["md5(random()::text)"] * 6)
    # Built from an integer and a fixed expression only: no outside input reaches the SQL.
    create = "CREATE TABLE bench_rows AS SELECT g AS id, %s AS body FROM generate_series(1, %d) g"
    took = seconds(lambda: bed.app.psql(create % (body, rows)))
    took += seconds(lambda: bed.app.psql("ALTER TABLE bench_rows ADD PRIMARY KEY (id)"))
    size = bed.app.psql("SELECT pg_size_pretty(pg_database_size('app'))")
    print(f"database filled in {took:.0f} s: {rows} rows, {size} on disk")


def measure(bed: Bed, rounds: int) -> int:
    ctx = context(bed)
    raw_file = bed.scratch / "raw.sql.gz"
    level6_file = bed.scratch / "level6.dump"
    kinds = ("backup", "raw backup", "restore", "raw restore", "custom -Z6 dump")
    times: dict[str, list[float]] = {kind: [] for kind in kinds}

    def take() -> None:
        if ctx.backup:
            Path(ctx.backup).unlink()  # only the newest is kept, as the disk is small
        take_backup(ctx)

    steps: dict[str, Callable[[], object]] = {
        "backup": take,
        "raw backup": lambda: raw_dump(bed, raw_file),
        "restore": lambda: restore_backup(ctx, Path(str(ctx.backup))),
        "raw restore": lambda: raw_load(bed, raw_file),
        # For the record: what deployhook's backup cost with pg_dump's default level.
        "custom -Z6 dump": lambda: level6_dump(bed, level6_file),
    }
    for number in range(rounds):
        # Alternate which side goes first, so that neither always finds the other's cache.
        order = ["", "raw "] if number % 2 == 0 else ["raw ", ""]
        for kind in ("backup", "restore"):
            for side in order:
                times[side + kind].append(seconds(steps[side + kind]))
                if kind == "restore":
                    check_restored(bed)
        times["custom -Z6 dump"].append(seconds(steps["custom -Z6 dump"]))
        print(f"round {number + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()))
    mb = 1024 * 1024
    print(f"sizes: deployhook {Path(str(ctx.backup)).stat().st_size / mb:.0f} MB (custom, -Z1), "
          f"custom -Z6 {level6_file.stat().st_size / mb:.0f} MB, "
          f"raw {raw_file.stat().st_size / mb:.0f} MB (plain SQL, gzip -6)")  # fmt: skip
    print("deployhook's commands in the last round (seconds):")
    for command in ctx.store.commands(ctx.deploy.id)[-5:]:
        print(f"  {command['duration']:7.2f}  {' '.join(command['argv'][-8:])}")
    results = [
        ratio_line("backup", times["backup"], times["raw backup"], TARGET),
        ratio_line("restore", times["restore"], times["raw restore"], TARGET),
    ]
    return 0 if all(results) else 1


def measure_restore(bed: Bed, rounds: int) -> int:
    """deployhook's restore vs DROP OWNED + gunzip | psql, order alternating, more rounds."""
    ctx = context(bed)
    backup, raw_file = both_backups(bed, ctx)
    steps: dict[str, Callable[[], object]] = {
        "restore": lambda: restore_backup(ctx, backup),
        "raw restore": lambda: raw_load(bed, raw_file),
    }
    times: dict[str, list[float]] = {kind: [] for kind in steps}
    for number in range(rounds):
        order = ["restore", "raw restore"] if number % 2 == 0 else ["raw restore", "restore"]
        for kind in order:
            times[kind].append(seconds(steps[kind]))
            check_restored(bed)
        print(f"round {number + 1} ({', '.join(order)}): "
              + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()))  # fmt: skip
    print("deployhook's restore commands in the last round (seconds):")
    for command in ctx.store.commands(ctx.deploy.id)[-3:]:
        print(f"  {command['duration']:7.2f}  {' '.join(command['argv'][-8:])}")
    return 0 if ratio_line("restore", times["restore"], times["raw restore"], 0.6) else 1


def measure_standby(bed: Bed, rounds: int) -> int:
    """The standby restore, prepared and cold, vs DROP OWNED + gunzip | psql, order rotating."""
    ctx = context(bed)
    backup, raw_file = both_backups(bed, ctx)
    preparing: list[float] = []

    def prepared() -> float:
        preparing.append(seconds(lambda: prepare(ctx, backup, wait=False).done.wait()))
        return seconds(lambda: restore_database(ctx, backup))

    def cold() -> float:
        ctx.standby = None
        return seconds(lambda: restore_database(ctx, backup))

    steps: dict[str, Callable[[], float]] = {
        "prepared": prepared,
        "cold": cold,
        "raw restore": lambda: seconds(lambda: raw_load(bed, raw_file)),
    }
    times: dict[str, list[float]] = {kind: [] for kind in steps}
    kinds = list(steps)
    for number in range(rounds):
        order = kinds[number % 3 :] + kinds[: number % 3]
        for kind in order:
            times[kind].append(steps[kind]())
            check_restored(bed)
            drop_kept_aside(bed, ctx, dump_once=number == 0 and kind == "prepared")
        print(f"round {number + 1} ({', '.join(order)}): "
              + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))  # fmt: skip
    print("standby restores in the background (untimed side):",
          ", ".join(f"{t:.1f} s" for t in preparing))  # fmt: skip
    print("deployhook's commands in the last prepared restore (seconds):")
    for command in ctx.store.commands(ctx.deploy.id)[-12:]:
        print(f"  {command['duration']:7.2f}  {' '.join(command['argv'][-8:])[:110]}")
    cold, raw = times["cold"], times["raw restore"]
    ratio_line("cold (the whole restore on the critical path)", cold, raw, 1.1)
    return 0 if ratio_line("prepared", times["prepared"], times["raw restore"], 0.6) else 1


def drop_kept_aside(bed: Bed, ctx: DeployContext, *, dump_once: bool) -> None:
    """Drop the database a standby swap renamed aside (the raw side leaves none)."""
    kept = ctx.deploy.kept_database or ""
    if not kept.startswith("database "):
        return
    if dump_once:  # what a revert does after the previous version is healthy: off the clock
        took = seconds(lambda: dump_kept_aside(ctx))
        print(f"kept database dumped and dropped, after the fact: {took:.1f} s")
        return
    as_superuser(bed, f'DROP DATABASE "{kept.removeprefix("database ")}"')
    ctx.deploy.kept_database = None


def as_superuser(bed: Bed, sql: str) -> None:
    argv = [*exec_argv(bed), "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres"]
    subprocess.run([*argv, "-d", "postgres", "-c", sql], env=bed.engine.env, check=True)


def both_backups(bed: Bed, ctx: DeployContext) -> tuple[Path, Path]:
    """One backup of each kind, timed once: deployhook's (custom format), pg_dump | gzip."""
    raw_file = bed.scratch / "raw.sql.gz"
    took = seconds(lambda: take_backup(ctx))
    took_raw = seconds(lambda: raw_dump(bed, raw_file))
    print(f"backup {took:.1f} s, raw backup {took_raw:.1f} s")
    return Path(str(ctx.backup)), raw_file


def context(bed: Bed) -> DeployContext:
    """A real DeployContext, as the pipeline builds it for a deploy of the running commit."""
    store = DeployStore(bed.redis)
    deploy = Deploy(
        id=new_deploy_id(),
        project="sample",
        environment="dev",
        ref_kind="sha",
        ref_name=bed.app.v1,
        sha=bed.app.v1,
        trigger="benchmark",
    )
    store.create(deploy)
    return new_context(deploy, bed.settings, store, DeployLog(store, deploy.id))


def raw_dump(bed: Bed, target: Path) -> None:
    """compose exec -T postgres pg_dump -U app app | gzip > target, as a shell would run it."""
    dump = [*exec_argv(bed), "pg_dump", "-U", "app", "app"]
    with target.open("wb") as out:
        producer = subprocess.Popen(dump, stdout=subprocess.PIPE, env=bed.engine.env)
        gzip = subprocess.run(["gzip"], stdin=producer.stdout, stdout=out, check=False)
        assert producer.stdout is not None
        producer.stdout.close()
        if producer.wait() != 0 or gzip.returncode != 0:
            codes = f"pg_dump {producer.returncode}, gzip {gzip.returncode}"
            raise SystemExit(f"expected the raw dump to exit 0, got {codes}")


def level6_dump(bed: Bed, target: Path) -> None:
    """deployhook's dump command as it was before, with pg_dump's default compression (6)."""
    dump = [*exec_argv(bed), "pg_dump", "--format=custom", "--no-password", "-U", "app", "app"]
    with target.open("wb") as out:
        subprocess.run(dump, stdout=out, env=bed.engine.env, check=True)


def raw_load(bed: Bed, source: Path) -> None:
    """The same DROP OWNED as deployhook, then gunzip -c source | psql --single-transaction."""
    drop = [*exec_argv(bed), *PSQL, "-c", "DROP OWNED BY CURRENT_USER CASCADE"]
    subprocess.run(drop, env=bed.engine.env, check=True, stdout=subprocess.DEVNULL)
    load = [*exec_argv(bed), *PSQL, "--single-transaction"]
    unzip = subprocess.Popen(["gunzip", "-c", str(source)], stdout=subprocess.PIPE)
    psql = subprocess.run(
        load, stdin=unzip.stdout, env=bed.engine.env, stdout=subprocess.DEVNULL, check=False
    )
    assert unzip.stdout is not None
    unzip.stdout.close()
    if unzip.wait() != 0 or psql.returncode != 0:
        codes = f"gunzip {unzip.returncode}, psql {psql.returncode}"
        raise SystemExit(f"expected the raw restore to exit 0, got {codes}")


def check_restored(bed: Bed) -> None:
    count = bed.app.psql("SELECT count(*) FROM bench_rows")
    if int(count) == 0:
        raise SystemExit(f"expected rows in bench_rows after the restore, got {count}")


def exec_argv(bed: Bed) -> list[str]:
    app = bed.app
    return [*app.compose_command, "-p", app.project, "-f", str(app.checkout / "docker-compose.yml"),
            "exec", "-T", "postgres"]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
