"""argv for backing up and restoring PostgreSQL, inside the database service or at a URL."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from config.model import Database
from jobs.commands.compose import Compose


def dump(database: Database, compose: Compose) -> list[str]:
    """Custom format: compressed, and checkable with `pg_restore --list`.

    Compression level 1, not the default 6: pg_dump compresses in the same process that
    reads the tables, so level 6 made a backup (which every deploy waits for) about 1.4x as
    slow as `pg_dump | gzip`; level 1 is about three times as fast for a file a few percent
    larger (bench/backup, bench/README.md).
    """
    command = ["pg_dump", "--format=custom", "--compress=1", "--no-password"]
    return _where(database, compose, [*command, *_target(database)])


def list_contents(database: Database, compose: Compose) -> list[str]:
    """Reads a custom-format dump on stdin and lists its table of contents."""
    return _where(database, compose, ["pg_restore", "--list"])


def schema_only(database: Database, compose: Compose) -> list[str]:
    """The schema as SQL text (no rows): hashed before and after a migration to see a change,
    and thrown away by `deployhook doctor` to prove pg_dump works as the configured user."""
    command = ["pg_dump", "--schema-only", "--no-password"]
    return _where(database, compose, [*command, *_target(database)])


def database_size(database: Database, compose: Compose) -> list[str]:
    """Prints the database's size on disk in bytes: an upper bound for a compressed backup."""
    sql = "SELECT pg_database_size(current_database())"
    argv = ["psql", "--no-password", "--set", "ON_ERROR_STOP=1", "--quiet", "--tuples-only"]
    return _where(database, compose, [*argv, "--no-align", *_target(database), "--command", sql])


# Every relation outside the system schemas, with the validity of indexes: pg_dump leaves out
# an index that `CREATE INDEX CONCURRENTLY` left invalid, so the schema dump alone misses it.
RELATIONS_SQL = (
    "SELECT n.nspname, c.relname, c.relkind, i.indisvalid, i.indisready "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid "
    "WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' ORDER BY 1, 2"
)


VERSION_MARK = "deployhook:version"


def catalog(database: Database, compose: Compose, version_query: str | None) -> list[str]:
    """Prints every user relation with its index validity, then a marker line and the rows of
    the configured version query (the migration tool's version; SQL from the operator's
    configuration, never from a request). One psql for both, since each exec costs.

    No ON_ERROR_STOP: before the first migration the version table does not exist, and psql
    then reports that on stderr after the relations were printed.
    """
    argv = ["psql", "--no-password", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align"]
    argv += [*_target(database), "--command", RELATIONS_SQL]
    if version_query is not None:
        argv += ["--command", f"\\echo {VERSION_MARK}", "--command", version_query]
    return _where(database, compose, argv)


def terminate_sessions(database: Database, compose: Compose) -> list[str]:
    """End other sessions on the database so that the restore can drop it.

    Connected to the target itself, `current_database()` names it: no name is pasted into SQL.
    """
    sql = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    argv = ["psql", "--no-password", "--set", "ON_ERROR_STOP=1", "--quiet", "--tuples-only"]
    return _where(database, compose, [*argv, *_target(database), "--command", sql])


def can_create_databases(database: Database, compose: Compose) -> list[str]:
    """Prints `t` when the role may drop and re-create the database (superuser or CREATEDB)."""
    sql = "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
    argv = ["psql", "--no-password", "--set", "ON_ERROR_STOP=1", "--quiet", "--tuples-only"]
    return _where(database, compose, [*argv, "--no-align", *_target(database), "--command", sql])


def recreate_from_dump(database: Database, compose: Compose) -> list[str]:
    """Drop and re-create the whole database from the dump on stdin.

    Objects that a failed migration added (which the dump knows nothing about) disappear with
    the old database: the restore leaves no trace of the deploy. Needs CREATEDB or superuser.
    """
    argv = ["pg_restore", "--no-password", "--clean", "--if-exists", "--create", "--exit-on-error"]
    return _where(database, compose, [*argv, *_maintenance_target(database)])


def drop_owned_objects(database: Database, compose: Compose) -> list[str]:
    """For an owner without CREATEDB: drop everything the role owns in the database."""
    argv = ["psql", "--no-password", "--set", "ON_ERROR_STOP=1", "--quiet", *_target(database)]
    return _where(database, compose, [*argv, "--command", "DROP OWNED BY CURRENT_USER CASCADE"])


def restore_into_existing(
    database: Database, compose: Compose, *, foreign: bool = False
) -> list[str]:
    """Restore the dump on stdin into the emptied database, all or nothing.

    `foreign`: the dump comes from another environment, whose roles may not exist here, so
    everything restored belongs to this environment's user.
    """
    argv = ["pg_restore", "--no-password", "--single-transaction", "--exit-on-error"]
    if foreign:
        argv += ["--no-owner", "--no-privileges"]
    return _where(database, compose, [*argv, *_target(database)])


def drop_database(database: Database, compose: Compose) -> list[str]:
    """Drop the database (ending its sessions), from the maintenance database."""
    argv = ["dropdb", "--no-password", "--if-exists", "--force", "--maintenance-db=postgres"]
    return _where(database, compose, [*argv, "--username", database.user, database.name])


def create_database(database: Database, compose: Compose) -> list[str]:
    """Create the (empty) database, owned by the configured user."""
    argv = ["createdb", "--no-password", "--maintenance-db=postgres", "--username", database.user]
    return _where(database, compose, [*argv, "--owner", database.user, database.name])


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
