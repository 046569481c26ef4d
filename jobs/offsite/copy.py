"""Copy every verified backup, and every kept dump, to the environment's restic repository.

A deploy's backup is copied in a stage of its own, right after it is taken and before
anything changes: with `on_failure: stop` a failed copy ends the deploy `failed`, nothing
changed; with `continue` (the default) the deploy goes on and the failure is in the log, the
record (`offsite_error`) and every report. A kept dump (the database as it was before a
restore) is copied as soon as it is written; that can never stop anything, since the restore
it keeps is under way, so a failed copy is recorded and said loudly.

Each copy carries the dump's schema fingerprint (tag `schema:`), which a restore drill
compares with the schema of what it restored (jobs/offsite/drill.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from jobs.commands import postgres, restic
from jobs.database.place import database_exec
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.offsite.repository import (
    OffsiteError,
    configured,
    ensure_repository,
    json_output,
    offsite_of,
)

FINGERPRINT_TIMEOUT = 600.0


def wants_offsite(ctx: DeployContext) -> bool:
    return offsite_of(ctx.tools) is not None and bool(ctx.backup)


def copy_backup(ctx: DeployContext) -> str | None:
    """The `offsite` stage: this deploy's backup to the repository; its snapshot id."""
    offsite = offsite_of(ctx.tools)
    if offsite is None or not ctx.backup:
        return None
    try:
        snapshot = copy_file(ctx, Path(ctx.backup), "backup")
    except (OffsiteError, CommandFailed, OSError) as error:
        detail = _why(error)
        ctx.deploy.offsite_error = detail
        ctx.save()
        if offsite.on_failure == "stop":
            raise StageFailed(
                "offsite",
                f"expected an off-site copy of {Path(ctx.backup).name}, got: {detail} "
                "(backups.offsite.on_failure: stop)",
            ) from None
        ctx.log.info(
            f"OFF-SITE COPY FAILED: {detail}. Deploying anyway (backups.offsite.on_failure: "
            f"continue): this backup exists on this host only"
        )
        return None
    ctx.deploy.offsite_snapshot = snapshot
    ctx.save()
    return snapshot


def copy_kept(ctx: DeployContext, path: Path) -> None:
    """A kept dump to the repository, when there is one; never raises (see the module doc)."""
    if offsite_of(ctx.tools) is None:
        return
    try:
        ctx.deploy.kept_offsite_snapshot = copy_file(ctx, path, "kept")
    except (OffsiteError, CommandFailed, OSError) as error:
        ctx.deploy.kept_offsite_error = _why(error)
        ctx.log.info(
            f"OFF-SITE COPY FAILED for the kept dump {path.name}: {_why(error)}; it exists on "
            "this host only"
        )
    ctx.save()


def copy_file(ctx: DeployContext, path: Path, kind: str) -> str:
    """Copy one dump; returns the snapshot's id. Raises OffsiteError or CommandFailed."""
    offsite = configured(ctx.tools)
    schema = dump_fingerprint(ctx, path)
    ensure_repository(ctx.tools)
    tags = restic.tags(ctx.deploy.target, ctx.deploy.id, kind, schema)
    summary = json_output(ctx.tools, restic.backup(offsite, path.name, tags), stdin_path=path)
    snapshot = summary.get("snapshot_id") if isinstance(summary, dict) else None
    if not snapshot:
        raise OffsiteError(f"expected restic to name the new snapshot, got {summary!r}")
    ctx.log.info(f"copied {path.name} off-site: snapshot {snapshot} in {offsite.repository}")
    return str(snapshot)


def dump_fingerprint(ctx: DeployContext, path: Path) -> str | None:
    """The schema fingerprint of a dump file (where the database runs, so the same PostgreSQL
    that a drill restores with reads it); None, logged, when it cannot be read."""
    # Here, not at the top: jobs.database imports this module (kept dumps are copied too).
    from jobs.database.watch import schema_hash

    database = ctx.environment.database
    if database is None:
        return None
    with tempfile.TemporaryDirectory(prefix="deployhook-schema-") as scratch:
        schema = Path(scratch) / "schema.sql"
        try:
            ctx.runner.run(
                postgres.schema_of_dump(database, database_exec(ctx.tools)),
                timeout=FINGERPRINT_TIMEOUT,
                stdin_path=path,
                stdout_path=schema,
                extra_env=postgres.connection_env(database),
                quiet=True,
                read_only=True,
            )
        except CommandFailed as error:
            ctx.log.info(f"no schema fingerprint for {path.name}: {error}")
            return None
        return schema_hash(schema.read_bytes())[:16]


def _why(error: Exception) -> str:
    if isinstance(error, CommandFailed) and error.output_tail:
        return f"{error}: {error.cause(300)}"
    return str(error)
