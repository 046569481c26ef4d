"""A client of the sample app's PostgreSQL from the host: queries, dumps and scratch copies.

The server listens on 127.0.0.1 with trust authentication (a test bed), so the host's own
PostgreSQL 15 client binaries reach it directly, as a user's application would.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.commands import run

BIN = Path("/usr/lib/postgresql/15/bin")
WRITES_TABLE = (
    "CREATE TABLE writes (n integer PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())"
)


def psql(port: int, sql: str, database: str = "app", user: str = "app") -> str:
    """Run SQL as `user`; unaligned, tuples only; a failure raises BedError."""
    argv = [str(BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    argv += ["-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", database, "-c", sql]
    return run(argv, timeout=60).stdout.strip()


def numbers(port: int, database: str = "app") -> set[int]:
    """The n of every row in `writes`."""
    return {int(n) for n in psql(port, "SELECT n FROM writes", database).split()}


def dump(port: int, database: str, *extra: str) -> str:
    """A plain-text pg_dump of `database` without the random \\restrict lines of 15.14+."""
    argv = [str(BIN / "pg_dump"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", *extra]
    text = run([*argv, database], timeout=120).stdout
    lines = [
        line for line in text.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
    ]
    return "\n".join(lines) + "\n"


def restore_copy(port: int, backup: Path, name: str) -> str:
    """Restore a custom-format dump into a new database `name` (as the superuser); returns it."""
    psql(port, f"CREATE DATABASE {name} OWNER app", database="postgres", user="postgres")
    argv = [str(BIN / "pg_restore"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    run([*argv, "--exit-on-error", "-d", name, str(backup)], timeout=120)
    return name
