"""Restore a backup beside the live database, then swap it in by rename: fast and all or nothing.

For a role that may create databases (superuser or CREATEDB; the official postgres image's
POSTGRES_USER is a superuser). The backup is restored into `<name>__dh_standby` while the live
database keeps serving: in the background from the moment the deploy's backup is verified
(`database.prepare_restore`, the default), otherwise when the revert decides to restore. A
revert that restores then only waits for the standby (usually ready long before), stops the
writers, and in one transaction carries the live database's own settings over and renames the
live database aside to `<name>__dh_kept_<stamp>` and the standby to `<name>`: the restore on the
critical path is a rename, and a restore that fails leaves production exactly as it was.
The database renamed aside holds every write the restore discards; jobs/database/keep.py
turns it into a verified dump once the previous version serves again, then drops it.

One standby per environment (its name is fixed): one deploy holds the environment's lock at a
time, and a standby a dead worker left behind is dropped before the next one is made.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from config.model import Database, Environment
from jobs.commands import postgres
from jobs.database.place import database_exec
from jobs.database.standby_thread import Standby
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, LockLost, StageFailed
from jobs.failures.finder import lines_that_matter

STANDBY_SUFFIX = "__dh_standby"
KEPT_INFIX = "__dh_kept_"
NAME_LIMIT = 63  # PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1)
SWAP_SQL = Path(__file__).with_name("swap_in.sql")


def standby_name(database: Database) -> str:
    return database.name[: NAME_LIMIT - len(STANDBY_SUFFIX)] + STANDBY_SUFFIX


def kept_name(database: Database, when: datetime) -> str:
    """`<name>__dh_kept_<UTC stamp>`: the live database renamed aside by a restore."""
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return database.name[: NAME_LIMIT - len(KEPT_INFIX) - len(stamp)] + KEPT_INFIX + stamp


def can_create_databases(ctx: DeployContext) -> bool:
    """Whether the configured role may create databases (asked once per deploy)."""
    database = ctx.environment.database
    if database is None:
        return False
    if ctx.creates_databases is None:
        probe = ctx.runner.run(
            postgres.can_create_databases(database, database_exec(ctx.tools)),
            timeout=60,
            extra_env=postgres.connection_env(database),
            read_only=True,
        )
        ctx.creates_databases = probe.output.strip().endswith("t")
    return ctx.creates_databases


def prepare(ctx: DeployContext, backup: Path, *, foreign: bool = False, wait: bool) -> Standby:
    """Start restoring `backup` into the standby (after dropping a leftover one).

    `wait=False` runs the restore in a background thread (the deploy goes on building);
    the revert's `swap_in` waits for it. Commands in the thread are fenced like any other.
    """
    database = configured_database(ctx.environment)
    name = standby_name(database)
    env = postgres.connection_env(database)
    properties = postgres.DatabaseProperties.parse(
        ctx.runner.run(
            postgres.database_properties(database, database_exec(ctx.tools)),
            timeout=60,
            extra_env=env,
            read_only=True,
        ).output
    )
    standby = Standby(backup, name, foreign)
    ctx.deploy.standby_database = name
    ctx.save()
    timeout = ctx.environment.timeouts.restore
    where = database_exec(ctx.tools)
    steps = [
        (postgres.drop_database(database, where, name), None),
        (postgres.create_standby(database, where, name, properties), None),
        (postgres.restore_into_standby(database, where, name, foreign=foreign), backup),
    ]

    def restore() -> None:
        started = time.monotonic()
        try:
            for argv, stdin in steps:
                if standby.cancelled:
                    return
                ctx.runner.run(argv, timeout=timeout, stdin_path=stdin, extra_env=env, quiet=True)
            standby.seconds = time.monotonic() - started
        except CommandFailed as error:
            tail = " | ".join(lines_that_matter(error.output_tail, limit=1))
            standby.error = f"{error}" + (f" ({tail})" if tail else "")
        except LockLost as lost:
            standby.error = f"lost the environment's lock: {lost}"
        except Exception as error:  # noqa: BLE001 - reported by wait(), never lost in a thread
            standby.error = f"{type(error).__name__}: {error}"
        finally:
            standby.done.set()

    ctx.log.info(f"restoring {backup.name} into the standby database {name}")
    if wait:
        restore()
    else:
        standby.thread = threading.Thread(target=restore, name=f"standby {name}", daemon=True)
        standby.thread.start()
    ctx.standby = standby
    return standby


def prepare_restore(ctx: DeployContext) -> None:
    """After the backup: start restoring it into the standby in the background, if it can be.

    Only a head start: when it cannot begin (a plain owner, `prepare_restore: false`, the probe
    failing), a revert that must restore does the whole restore then.
    """
    database = ctx.environment.database
    if database is None or ctx.backup is None or not database.prepare_restore:
        return
    if ctx.deploy.restore_backup:
        return  # a rollback restores a backup of its own choosing, not the one just taken
    if ctx.environment.migrate is None:
        return  # without a migration, no revert of this deploy restores the database
    try:
        if can_create_databases(ctx):
            prepare(ctx, Path(ctx.backup), wait=False)
    except (CommandFailed, ValueError) as error:
        ctx.log.info(f"no standby restore prepared ({error}); a revert would restore in place")


def swap_in(ctx: DeployContext, standby: Standby, kept: str) -> None:
    """Put the standby in the live database's place, renaming the live one to `kept`.

    The caller has stopped the writers and named `kept` in the record. One transaction:
    settings carried over, live renamed aside, standby renamed to the live name. On an error
    nothing changed, unless the error came after the commit (a connection lost as it
    answered): the kept database existing is the proof, and then the swap stands.
    """
    database = configured_database(ctx.environment)
    standby.wait(ctx.environment.timeouts.restore)
    try:
        ctx.runner.run(
            postgres.swap_in_standby(database, database_exec(ctx.tools), standby.name, kept),
            timeout=120,
            stdin_path=SWAP_SQL,
            extra_env=postgres.connection_env(database),
        )
    except CommandFailed:
        if not kept_exists(ctx, kept):
            raise
        ctx.log.info(f"the swap's answer was lost, but {kept} exists: it was committed")
    ctx.standby = None
    ctx.deploy.standby_database = None
    ctx.log.info(
        f"restored {standby.backup.name}: the standby is now {database.name}; the database as "
        f"it was is renamed to {kept}"
    )


def kept_exists(ctx: DeployContext, kept: str) -> bool:
    """Whether a database set aside by a swap is there (so that swap was committed)."""
    database = configured_database(ctx.environment)
    listed = ctx.runner.run(
        postgres.kept_aside_databases(database, database_exec(ctx.tools)),
        timeout=60,
        extra_env=postgres.connection_env(database),
        read_only=True,
    )
    return kept in listed.output.split()


def discard(ctx: DeployContext) -> None:
    """Drop the standby this deploy made (stopping its restore), or one a dead worker left.

    Never raises: a standby left behind holds no one's data, and the next deploy's `prepare`
    drops it first; the log says so.
    """
    database = ctx.environment.database
    name = ctx.deploy.standby_database
    if database is None or name is None:
        return
    standby = ctx.standby
    drop = postgres.drop_database(database, database_exec(ctx.tools), name)
    env = postgres.connection_env(database)
    try:
        if standby is not None:
            standby.cancelled = True
            # --force ends the restore's session, so the thread's pg_restore fails and stops.
            ctx.runner.run(drop, timeout=120, extra_env=env, check=False)
            if standby.thread is not None:
                standby.thread.join(ctx.environment.timeouts.restore)
        # Again once the thread stopped: it may have created the database after the first drop.
        ctx.runner.run(drop, timeout=120, extra_env=env)
    except (CommandFailed, LockLost) as error:
        ctx.log.info(f"the standby database {name} was not dropped ({error}); the next deploy will")
        return
    ctx.standby = None
    ctx.deploy.standby_database = None
    ctx.save()


def configured_database(environment: Environment) -> Database:
    database = environment.database
    if database is None:
        raise StageFailed("restore", "expected a database to restore, got none configured")
    return database
