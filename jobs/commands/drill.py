"""argv for the restore drill's questions to its throwaway database (a rehearsal-style
container: tmpfs, no volume, no port, `--network none`; jobs/commands/rehearsal.py)."""

from __future__ import annotations

# Every user table with its exact row count, in one query (no \gexec, so no script):
# query_to_xml runs a count per table. pg_stat's estimates are not counts after a restore.
ROW_COUNTS_SQL = (
    "SELECT n.nspname || '.' || c.relname, (xpath('/row/c/text()', query_to_xml("
    "format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]"
    "::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' "
    "AND n.nspname !~ '^pg_' ORDER BY 1"
)


def name(drill_id: str) -> str:
    return f"deployhook-drill-{drill_id}"


def dump_contents(container: str) -> list[str]:
    """The dump on stdin's table of contents (its TABLE DATA entries name every table)."""
    return ["docker", "exec", "--interactive", container, "pg_restore", "--list"]


def row_counts(container: str, user: str, database: str) -> list[str]:
    """`schema.table|rows`, one a line."""
    return [
        "docker", "exec", container,
        "psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--quiet",
        "--tuples-only", "--no-align", "--username", user, "--dbname", database,
        "--command", ROW_COUNTS_SQL,
    ]  # fmt: skip


def schema(container: str, user: str, database: str) -> list[str]:
    """The restored schema as SQL, as the dump's fingerprint was taken (no owners, no grants)."""
    return [
        "docker", "exec", container,
        "pg_dump", "--schema-only", "--no-owner", "--no-privileges", "--no-password",
        "--username", user, "--dbname", database,
    ]  # fmt: skip
