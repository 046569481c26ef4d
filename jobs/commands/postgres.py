"""argv for backing up and restoring PostgreSQL, inside the database service or at a URL."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from config.model import Database
from jobs.commands.compose import Compose


def dump(database: Database, compose: Compose) -> list[str]:
    """Custom format: compressed, and checkable with `pg_restore --list`."""
    command = ["pg_dump", "--format=custom", "--no-password"]
    return _where(database, compose, [*command, *_target(database)])


def list_contents(database: Database, compose: Compose) -> list[str]:
    """Reads a custom-format dump on stdin and lists its table of contents."""
    return _where(database, compose, ["pg_restore", "--list"])


def terminate_sessions(database: Database, compose: Compose) -> list[str]:
    sql = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = :'target' AND pid <> pg_backend_pid()"
    )
    argv = ["psql", "--no-password", "--set", "ON_ERROR_STOP=1", "--set", f"target={database.name}"]
    argv += [*_maintenance_target(database), "--quiet", "--command", sql]
    return _where(database, compose, argv)


def restore(database: Database, compose: Compose) -> list[str]:
    """Drop and re-create the database from the dump on stdin.

    `--create --clean` drops the whole database first, so objects that a failed migration added
    (which the dump knows nothing about) disappear too; the restore leaves no trace of the deploy.
    """
    argv = ["pg_restore", "--no-password", "--clean", "--if-exists", "--create", "--exit-on-error"]
    return _where(database, compose, [*argv, *_maintenance_target(database)])


def connection_env(database: Database) -> dict[str, str]:
    """libpq variables for a URL database, so that its password never shows in an argv."""
    if database.url is None:
        return {}
    parts = urlsplit(database.url.reveal())
    env = {"PGHOST": parts.hostname or "", "PGPORT": str(parts.port or 5432)}
    if parts.username:
        env["PGUSER"] = unquote(parts.username)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return env


def _target(database: Database) -> list[str]:
    return ["--username", database.user, "--dbname", database.name]


def _maintenance_target(database: Database) -> list[str]:
    # The restore connects to the maintenance database so that it can drop the target.
    return ["--username", database.user, "--dbname", "postgres"]


def _where(database: Database, compose: Compose, command: list[str]) -> list[str]:
    if database.service is not None:
        return compose.exec(database.service, command)
    return command
