"""Restore drills: prove the newest off-site backup restores (`deployhook verify-backups`).

The newest off-site copy of a deploy's backup is fetched from the repository (not from this
host: the drill proves what survives the host) and restored into a throwaway PostgreSQL shaped
like the migration rehearsal's (the database service's image and environment, tmpfs, no
volume, no port, no network). It passes when
- the restore runs without error (all or nothing, `--single-transaction --exit-on-error`);
- every table in the dump's table of contents is there, each counted (rows);
- the restored schema's fingerprint equals the one recorded when the copy was taken.
The result goes to Redis (the status page, /metrics, `verify-backups`); a failure is also
reported to the chat and webhook reporters (jobs/offsite/alert.py).
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import docker.errors

from config import Settings
from jobs.commands import drill, rehearsal, restic
from jobs.compose.images import running_images
from jobs.compose.model import read_model
from jobs.execution.context import DeployContext
from jobs.execution.runner import Runner
from jobs.failures.errors import CommandFailed, DeployError
from jobs.offsite.action import unlocked_context
from jobs.offsite.alert import report_failed_drill
from jobs.offsite.repository import OffsiteError, choose, configured, list_copies, run_restic
from jobs.operations.maintenance import Echo
from jobs.runbook.stages.rehearse import _container, _service, _wait_ready
from jobs.state import Connection
from jobs.state.drills import DrillResult, record_drill
from jobs.state.records import utcnow
from jobs.swarm.database import NodeEngine

READY_SECONDS = 120.0
_TABLE_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) ")


def drilled_targets(settings: Settings) -> list[str]:
    """Every environment with an off-site repository, as `project/environment`."""
    return [
        environment.target
        for environment in settings.every_environment()
        if environment.backups.offsite is not None
    ]


def verify_backups(
    settings: Settings, connection: Connection, target: str, echo: Echo | None = None
) -> DrillResult:
    """Run one drill of `target`; record it, report a failure, return it (never raises for a
    failed drill: the result says why)."""
    ctx = unlocked_context(settings, connection, target, "verify-backups", echo)
    result = DrillResult(target=target, ok=False, at="")
    started = time.monotonic()
    try:
        run_drill(ctx, result)
        result.ok = True
    except (DeployError, OSError, docker.errors.DockerException) as error:
        detail = str(error)
        if isinstance(error, CommandFailed) and error.output_tail:
            detail += ": " + error.cause(300)
        result.error = ctx.log.mask(detail)[:1000]
    finally:
        ctx.close()
    result.at = utcnow()
    result.seconds = round(time.monotonic() - started, 1)
    ctx.log.info(f"restore drill of {target}: {result.summary()}")
    record_drill(connection, result)
    if not result.ok:
        report_failed_drill(settings, result)
    return result


def run_drill(ctx: DeployContext, result: DrillResult) -> None:
    database = ctx.environment.database
    if database is None or database.service is None:
        raise OffsiteError(
            "a restore drill needs database.service: it starts a copy of that service's image"
        )
    offsite = configured(ctx.tools)
    copy = choose(list_copies(ctx.tools), None, ctx.deploy.target)
    result.snapshot, result.name, result.taken_by = copy.short_id, copy.name, copy.deploy_id
    result.schema_recorded = copy.schema
    with tempfile.TemporaryDirectory(prefix="deployhook-drill-") as scratch:
        dump = Path(scratch) / copy.name
        run_restic(
            ctx.tools, restic.dump(offsite, copy.id, copy.name), stdout_path=dump, quiet=True
        )
        ctx.log.info(f"fetched {copy.name} ({dump.stat().st_size} bytes) from {copy.short_id}")
        spec = _service(read_model(ctx.runner, ctx.compose).services, database.service)
        name = drill.name(ctx.deploy.id)
        image = running_images(ctx).get(database.service) or spec.image
        if not image:
            raise OffsiteError(f"expected an image for {database.service}, got none")
        here = NodeEngine(ctx.runner, ctx.docker, own_client=False)
        container = _container(
            ctx, here, spec, Path(scratch) / "database.env", name=name, image=image,
            network="none", detach=True, add_hosts=(f"{database.service}:127.0.0.1",),
        )  # fmt: skip
        try:
            ctx.runner.run(rehearsal.run(container), timeout=120)
            _wait_ready(here, name, database.user, database.name, READY_SECONDS)
            _restore(ctx, name, database.user, database.name, dump)
            _check(ctx, name, database.user, database.name, dump, result)
        finally:
            Runner(ctx.log, ctx.runner.environ).run(
                rehearsal.remove(name), timeout=60, check=False, quiet=True
            )


def _restore(ctx: DeployContext, name: str, user: str, database: str, dump: Path) -> None:
    try:
        ctx.runner.run(
            rehearsal.restore(name, user, database),
            timeout=ctx.environment.timeouts.restore,
            stdin_path=dump,
            quiet=True,
        )
    except CommandFailed as error:
        raise OffsiteError(f"the backup does not restore: {error}: {error.cause(400)}") from None


def _check(
    ctx: DeployContext, name: str, user: str, database: str, dump: Path, result: DrillResult
) -> None:
    from jobs.database.watch import schema_hash

    with tempfile.TemporaryDirectory(prefix="deployhook-drill-") as scratch:
        contents, counts, schema = (Path(scratch) / n for n in ("toc", "counts", "schema"))
        run = ctx.runner.run
        run(drill.dump_contents(name), timeout=300, stdin_path=dump, stdout_path=contents,
            quiet=True)  # fmt: skip
        run(drill.row_counts(name, user, database), timeout=3600, stdout_path=counts, quiet=True)
        run(drill.schema(name, user, database), timeout=300, stdout_path=schema, quiet=True)
        expected = sorted(tables_in_contents(contents.read_text()))
        result.tables = parse_counts(counts.read_text())
        result.schema_restored = schema_hash(schema.read_bytes())[:16]
    result.missing = [table for table in expected if table not in result.tables]
    for table, rows in sorted(result.tables.items()):
        ctx.log.info(f"  {table}: {rows} rows")
    if result.missing:
        raise OffsiteError(f"tables missing after the restore: {', '.join(result.missing)}")
    if result.schema_recorded is None:
        raise OffsiteError("the copy has no recorded schema fingerprint to compare with")
    if result.schema_restored != result.schema_recorded:
        raise OffsiteError(
            f"expected the schema fingerprint recorded when the copy was taken, "
            f"{result.schema_recorded}, got {result.schema_restored}"
        )


def tables_in_contents(listing: str) -> set[str]:
    """`schema.table` of every TABLE DATA entry of a `pg_restore --list`."""
    found = set()
    for line in listing.splitlines():
        match = _TABLE_DATA.match(line)
        if match:
            found.add(f"{match[1]}.{match[2]}")
    return found


def parse_counts(text: str) -> dict[str, int]:
    counts = {}
    for line in text.splitlines():
        table, _, rows = line.strip().rpartition("|")
        if table and rows.isdigit():
            counts[table] = int(rows)
    return counts
