"""argv for backing up and restoring PostgreSQL, inside the database service or at a URL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from config.model import LIBPQ_URL_PARAMETERS, Database


class ServiceExec(Protocol):
    """What runs a command inside the database service: Compose's `exec` on one host, or on a
    swarm `docker exec` into the database task's container on its node (jobs/swarm/database.py).
    """

    def exec(self, service: str, command: list[str], env: Sequence[str] = ()) -> list[str]: ...


def dump(database: Database, compose: ServiceExec, name: str | None = None) -> list[str]:
    """Custom format: compressed, and checkable with `pg_restore --list`.

    Compression level 1, not the default 6: pg_dump compresses in the same process that
    reads the tables, so level 6 made a backup (which every deploy waits for) about 1.4x as
    slow as `pg_dump | gzip`; level 1 is about three times as fast for a file a few percent
    larger (bench/backup, bench/README.md).
    """
    command = ["pg_dump", "--format=custom", "--compress=1", "--no-password"]
    return _where(database, compose, [*command, *_target(database, name)])


def list_contents(database: Database, compose: ServiceExec) -> list[str]:
    """Reads a custom-format dump on stdin and lists its table of contents."""
    return _where(database, compose, ["pg_restore", "--list"])


def schema_only(database: Database, compose: ServiceExec) -> list[str]:
    """The schema as SQL text (no rows): hashed before and after a migration to see a change,
    and thrown away by `deployhook doctor` to prove pg_dump works as the configured user."""
    command = ["pg_dump", "--schema-only", "--no-password"]
    return _where(database, compose, [*command, *_target(database)])


def database_size(database: Database, compose: ServiceExec) -> list[str]:
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


def catalog(database: Database, compose: ServiceExec, version_query: str | None) -> list[str]:
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


def can_create_databases(database: Database, compose: ServiceExec) -> list[str]:
    """Prints `t` when the role may create databases and rename this one: a superuser, or
    CREATEDB and (a member of) the database's owner. Then restores go through a standby."""
    argv = ["psql", "--no-password", "--set", "ON_ERROR_STOP=1", "--quiet", "--tuples-only"]
    return _where(
        database, compose, [*argv, "--no-align", *_target(database), "--command", SWAP_SQL_OK]
    )


def restore_script(
    database: Database, compose: ServiceExec, *, foreign: bool = False, on_host: bool = False
) -> list[str]:
    """The dump on stdin as one SQL transaction on stdout: BEGIN first, COMMIT only at the very
    end, so a stream cut short anywhere commits nothing.

    It needs no server: `on_host` runs the host's pg_restore (when it reads the archive),
    which spares the SQL text a trip out of the database container and back in. `foreign`:
    the dump comes from another environment, whose roles may not exist here, so everything
    restored belongs to this environment's user.
    """
    argv = ["pg_restore", "--no-password", "--single-transaction", "--exit-on-error", "--file=-"]
    if foreign:
        argv += ["--no-owner", "--no-privileges"]
    return argv if on_host else _where(database, compose, argv)


def schema_of_dump(database: Database, compose: ServiceExec) -> list[str]:
    """The schema a custom-format dump on stdin holds, as SQL on stdout, with no owners or
    grants: hashed when the dump is copied off-site, and compared by the restore drill with
    `pg_dump` of the database restored from it (the same text, object for object)."""
    argv = ["pg_restore", "--schema-only", "--no-owner", "--no-privileges", "--file=-"]
    return _where(database, compose, argv)


def list_contents_on_host() -> list[str]:
    """The host's pg_restore listing a dump on stdin: exit 0 when it can read that archive."""
    return ["pg_restore", "--list"]


def replace_owned_objects(database: Database, compose: ServiceExec) -> list[str]:
    """A plain owner's restore in place, fed restore_script's SQL on stdin: one transaction
    that drops everything the role owns, then runs the script, whose COMMIT ends it.

    All or nothing: an error stops psql (ON_ERROR_STOP) and the transaction is rolled back;
    so is one whose script ends before its COMMIT (the session ends with it open). The
    script's own BEGIN only draws a warning inside the transaction already open.
    """
    argv = ["psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--quiet"]
    argv += ["--output=/dev/null", *_target(database), "--command", "BEGIN"]
    argv += ["--command", "DROP OWNED BY CURRENT_USER CASCADE", "--file=-"]
    return _where(database, compose, argv)


def drop_database(database: Database, compose: ServiceExec, name: str | None = None) -> list[str]:
    """Drop the database, or the one called `name` (ending its sessions), from the maintenance
    database."""
    argv = ["dropdb", "--no-password", "--if-exists", "--force", "--maintenance-db=postgres"]
    return _where(database, compose, [*argv, "--username", database.user, name or database.name])


SWAP_SQL_OK = (
    "SELECT r.rolsuper OR (r.rolcreatedb AND pg_has_role(r.oid, d.datdba, 'MEMBER')) "
    "FROM pg_roles r, pg_database d "
    "WHERE r.rolname = current_user AND d.datname = current_database()"
)


# The live database's encoding and locale, so that a standby restored beside it sorts and
# compares text exactly as it does. The provider columns exist from PostgreSQL 15 (ICU locale
# renamed in 17): read through to_jsonb, an empty field where the server has no such column.
PROPERTIES_SQL = (
    "SELECT pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
    "coalesce(to_jsonb(d)->>'datlocprovider', ''), "
    "coalesce(to_jsonb(d)->>'datlocale', to_jsonb(d)->>'daticulocale', ''), "
    "pg_catalog.pg_get_userbyid(d.datdba) "
    "FROM pg_catalog.pg_database d WHERE d.datname = current_database()"
)


def database_properties(database: Database, compose: ServiceExec) -> list[str]:
    """Prints `encoding|collate|ctype|provider|locale|owner` of the live database."""
    argv = ["psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--quiet"]
    argv += ["--tuples-only", "--no-align", *_target(database), "--command", PROPERTIES_SQL]
    return _where(database, compose, argv)


@dataclass(frozen=True)
class DatabaseProperties:
    encoding: str
    collate: str
    ctype: str
    provider: str  # pg_database.datlocprovider: "c" libc, "i" ICU, "b" builtin; "" before 15
    locale: str  # the ICU or builtin locale, when the provider has one
    owner: str

    @classmethod
    def parse(cls, output: str) -> DatabaseProperties:
        """From database_properties' output; ValueError when it is not one such line."""
        lines = [line for line in output.splitlines() if line.strip()]
        fields = lines[-1].split("|") if lines else []
        if len(fields) != 6 or not all(fields[:3]) or not fields[5]:
            raise ValueError(
                f"expected encoding|collate|ctype|provider|locale|owner, got {output!r}"
            )
        return cls(*fields)


PROVIDERS = {"c": "libc", "i": "icu", "b": "builtin"}


def create_standby(
    database: Database, compose: ServiceExec, name: str, properties: DatabaseProperties
) -> list[str]:
    """Create the empty database `name` from template0, with the live database's encoding,
    locale and owner."""
    argv = ["createdb", "--no-password", "--maintenance-db=postgres", "--username", database.user]
    argv += ["--owner", properties.owner, "--template=template0"]
    argv += [f"--encoding={properties.encoding}", f"--lc-collate={properties.collate}"]
    argv += [f"--lc-ctype={properties.ctype}"]
    provider = PROVIDERS.get(properties.provider)
    if provider is not None:
        argv.append(f"--locale-provider={provider}")
    if provider == "icu" and properties.locale:
        argv.append(f"--icu-locale={properties.locale}")
    elif provider == "builtin" and properties.locale:
        argv.append(f"--builtin-locale={properties.locale}")
    return _where(database, compose, [*argv, name])


def restore_into_standby(
    database: Database, compose: ServiceExec, name: str, *, foreign: bool = False
) -> list[str]:
    """Restore the dump on stdin into the fresh database `name`, stopping at the first error.

    No single transaction: the standby is not live, and a restore that fails is dropped whole.
    """
    argv = ["pg_restore", "--no-password", "--exit-on-error"]
    if foreign:
        argv += ["--no-owner", "--no-privileges"]
    return _where(database, compose, [*argv, *_target(database, name)])


KEPT_ASIDE_SQL = (
    "SELECT datname FROM pg_catalog.pg_database "
    r"WHERE datname LIKE '%\_\_dh\_kept\_%' ORDER BY 1"
)


def kept_aside_databases(database: Database, compose: ServiceExec) -> list[str]:
    """Prints the names of the databases restores renamed aside (`*__dh_kept_*`), one a line."""
    argv = ["psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--quiet"]
    argv += ["--tuples-only", "--no-align", *_target(database), "--command", KEPT_ASIDE_SQL]
    return _where(database, compose, argv)


def swap_in_standby(database: Database, compose: ServiceExec, standby: str, kept: str) -> list[str]:
    """Reads jobs/database/swap_in.sql on stdin: in one transaction, carry the live database's
    settings, grants and comment over to `standby`, rename the live database to `kept` and
    `standby` to the live name. Names travel as psql variables, quoted by psql itself."""
    argv = ["psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--quiet"]
    argv += ["--set", f"live={database.name}", "--set", f"standby={standby}"]
    argv += ["--set", f"kept={kept}", *_maintenance_target(database), "--file=-"]
    return _where(database, compose, argv)


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
    # sslmode, sslrootcert, connect_timeout, ...: what the URL asks of the connection holds.
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in LIBPQ_URL_PARAMETERS:
            env[LIBPQ_URL_PARAMETERS[key]] = value
    return env


def _target(database: Database, name: str | None = None) -> list[str]:
    return ["--username", database.user, "--dbname", name or database.name]


def _maintenance_target(database: Database) -> list[str]:
    # The restore connects to the maintenance database so that it can drop the target.
    return ["--username", database.user, "--dbname", "postgres"]


def _where(database: Database, compose: ServiceExec, command: list[str]) -> list[str]:
    if database.service is not None:
        return compose.exec(database.service, command)
    return command
