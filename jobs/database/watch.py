"""Fingerprint the database around a migration, so a revert restores only what really changed.

A fingerprint is the migration tool's version (a configurable query, alembic's table by default)
plus a hash of the schema: `pg_dump --schema-only` (comments and per-run lines left out) and
the list of relations with their indexes' validity, because pg_dump leaves out an index that a
failed `CREATE INDEX CONCURRENTLY` left behind invalid. Rows are not part of it: hashing them
would cost as much as a backup.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jobs.commands import postgres
from jobs.database.place import database_exec
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed
from jobs.swarm import is_swarm

Change = Literal["unchanged", "changed", "unknown"]
FINGERPRINT_TIMEOUT = 300.0
# Lines that differ between two dumps of the same schema: comments, blank lines, and the
# random key pg_dump 15.14+ brackets its output with.
_NOISE = ("--", "\\restrict ", "\\unrestrict ")


@dataclass(frozen=True)
class Fingerprint:
    version: str
    schema: str  # sha256 of the normalised schema dump


@contextmanager
def watch_database(ctx: DeployContext, *, closing_beside: bool = False) -> Iterator[None]:
    """Compare the database before and after the body (also when it raises).

    Sets `ctx.deploy.database_change`: "unknown" when either fingerprint could not be taken,
    so that a revert restores whenever the database cannot be proven unchanged. The opening
    fingerprint is the one `read_ahead` started after the backup, when there is one. With
    `closing_beside`, a body that succeeded has its closing fingerprint read in a thread
    (`ctx.closing_fingerprint`) beside the stage that follows, the swap's new containers
    booting; that stage ends with `settle_database_change` (`then_settle`), which waits for it
    and records the change.
    """
    if ctx.environment.database is None:
        yield
        return
    opening, ctx.opening_fingerprint = ctx.opening_fingerprint, None
    before = opening.result(ctx) if opening is not None else take_fingerprint(ctx)
    try:
        yield
    except BaseException:
        record_change(ctx, before, take_fingerprint(ctx))
        raise
    if closing_beside:
        ctx.fingerprint_before = before
        ctx.closing_fingerprint = FingerprintRead.start(lambda: take_fingerprint(ctx), "closing")
    else:
        record_change(ctx, before, take_fingerprint(ctx))


def read_ahead(ctx: DeployContext) -> None:
    """After the backup: read the fingerprint the migration is compared with, in a thread,
    beside the checkout and the build. Any schema change from here on counts as the deploy's
    (a new release that migrates at its boot, after a recreate, too), so a revert restores
    more often, never less. Not for a swarm (its database exec goes through the engine's
    API), nor a rollback that restores (its migration follows its own restore)."""
    environment = ctx.environment
    if environment.database is None or environment.migrate is None or ctx.backup is None:
        return
    if is_swarm(environment) or ctx.deploy.restore_backup:
        return
    ctx.log.info("reading the database's fingerprint beside the checkout and the build")
    ctx.opening_fingerprint = FingerprintRead.start(lambda: take_fingerprint(ctx), "opening")


class FingerprintRead:
    """One fingerprint of the database, read in a thread of its own: it changes nothing, and
    the stages beside it do not wait for it."""

    def __init__(self, read: Callable[[], Fingerprint | None], which: str) -> None:
        self._read = read
        self.value: Fingerprint | None = None
        self.problem: str | None = None
        self.thread = threading.Thread(target=self._run, name=f"{which}-fingerprint", daemon=True)

    @classmethod
    def start(cls, read: Callable[[], Fingerprint | None], which: str) -> FingerprintRead:
        started = cls(read, which)
        started.thread.start()
        return started

    def wait(self) -> None:
        self.thread.join()

    def result(self, ctx: DeployContext) -> Fingerprint | None:
        """The fingerprint once read; None (logged) when it could not be: "unknown"."""
        self.wait()
        if self.problem is not None:
            ctx.log.info(f"no database fingerprint: {self.problem}")
        return self.value

    def _run(self) -> None:
        try:
            self.value = self._read()
        except Exception as error:  # noqa: BLE001 - unread is "unknown": the revert restores
            self.problem = f"{type(error).__name__}: {error}"


def settle_database_change(ctx: DeployContext) -> None:
    """Wait for a closing fingerprint read in the background, if any, and record the change:
    before anything reads `database_change` (a revert, the reports) or changes the schema."""
    closing, ctx.closing_fingerprint = ctx.closing_fingerprint, None
    if closing is not None:
        record_change(ctx, ctx.fingerprint_before, closing.result(ctx))


def then_settle(action: Callable[[DeployContext], None]) -> Callable[[DeployContext], None]:
    """`action` (the swap), run beside a closing fingerprint read: it ends once that read is
    recorded, however it ended, so that every later step (the health stage, a revert, the
    recovery of a deploy that lost its lock) knows whether the migration changed the
    database."""

    def beside_closing_read(ctx: DeployContext) -> None:
        try:
            action(ctx)
        finally:
            settle_database_change(ctx)

    return beside_closing_read


def record_change(
    ctx: DeployContext, before: Fingerprint | None, after: Fingerprint | None
) -> None:
    ctx.deploy.database_change = compare(before, after)
    ctx.log.info(f"database after the migration: {ctx.deploy.database_change}")
    ctx.save()


def compare(before: Fingerprint | None, after: Fingerprint | None) -> Change:
    if before is None or after is None:
        return "unknown"
    return "unchanged" if before == after else "changed"


def take_fingerprint(ctx: DeployContext) -> Fingerprint | None:
    """The database's version and schema hash, or None (logged) when it cannot be read."""
    database = ctx.environment.database
    if database is None:
        return None
    migrate = ctx.environment.migrate
    query = migrate.version_query if migrate is not None else None
    env = postgres.connection_env(database)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            schema, listing = Path(scratch) / "schema.sql", Path(scratch) / "catalog.txt"
            run = ctx.runner.run
            dump = postgres.schema_only(database, database_exec(ctx.tools))
            run(dump, timeout=FINGERPRINT_TIMEOUT, stdout_path=schema, extra_env=env, quiet=True)
            result = run(
                postgres.catalog(database, database_exec(ctx.tools), query),
                timeout=FINGERPRINT_TIMEOUT,
                stdout_path=listing,
                extra_env=env,
                quiet=True,
                check=False,  # 1: an SQL error, e.g. no version table yet (judged below)
            )
            if result.exit_code not in (0, 1):
                raise CommandFailed(result.argv, f"psql exited {result.exit_code}", result.output)
            relations, _, version = listing.read_text().partition(postgres.VERSION_MARK + "\n")
            digest = schema_hash(schema.read_bytes() + b"\n" + relations.encode())
        version = read_version(result.argv, version.strip(), result.output, result.exit_code)
    except CommandFailed as error:
        ctx.log.info(f"no database fingerprint: {error}")
        return None
    ctx.log.info(f"database fingerprint: version {version or '-'}, schema {digest[:12]}")
    return Fingerprint(version, digest)


def schema_hash(dump: bytes) -> str:
    """sha256 of a schema dump without the lines that change from one run to the next."""
    digest = hashlib.sha256()
    for line in dump.decode("utf-8", "replace").splitlines():
        if line.strip() and not line.startswith(_NOISE):
            digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def read_version(argv: list[str], rows: str, errors: str, exit_code: int) -> str:
    """The version rows; the error when the version table does not exist (yet) is a version."""
    problems = [line for line in errors.splitlines() if line.startswith("ERROR:")]
    if not problems and exit_code == 0:
        return rows
    if not problems:
        raise CommandFailed(argv, f"the fingerprint's queries exited {exit_code}", errors)
    # Before the first migration the version table does not exist: that absence is the version.
    if "does not exist" in problems[0] and not rows:
        return f"none ({problems[0]})"
    raise CommandFailed(argv, f"the fingerprint's queries failed: {problems[0]}", errors)
