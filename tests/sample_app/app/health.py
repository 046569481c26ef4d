"""Is this version of the code able to serve? Database reachable, schema what the code needs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psycopg2
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parent
# What this commit's code needs: the schema head its migrations reach, and these columns.
SCHEMA = json.loads((ROOT / "schema.json").read_text())
HEAD = ScriptDirectory(str(ROOT / "migrations")).get_current_head()


def database_url() -> str:
    return os.environ["DATABASE_URL"]


STARTED = time.monotonic()


def problem() -> str | None:
    """None when healthy, else the reason the service cannot serve."""
    time.sleep(SCHEMA.get("health_stall_seconds", 0))  # a hung dependency, when asked for
    flap = _flapping()
    if flap is not None:
        return flap
    try:
        connection = psycopg2.connect(database_url(), connect_timeout=3)
    except psycopg2.Error as error:
        return f"database unreachable: {str(error).strip().splitlines()[0]}"
    try:
        with connection.cursor() as cursor:
            return _schema_problem(cursor)
    except psycopg2.Error as error:
        return f"database error: {str(error).strip().splitlines()[0]}"
    finally:
        connection.close()


def _flapping() -> str | None:
    """`health_flap_seconds` [t1, t2, ...]: the answer flips at each of these ages (seconds
    since start), starting unhealthy; e.g. [0, 1, 4] is healthy, unhealthy from 1 s, healthy
    again from 4 s."""
    edges = SCHEMA.get("health_flap_seconds") or []
    age = time.monotonic() - STARTED
    if sum(1 for edge in edges if age >= edge) % 2 == 0 and edges:
        return f"flapping: unhealthy {age:.1f}s after start"
    return None


def _schema_problem(cursor: psycopg2.extensions.cursor) -> str | None:
    cursor.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return f"schema not migrated: expected revision {HEAD}, got none"
    cursor.execute("SELECT version_num FROM alembic_version")
    revisions = [row[0] for row in cursor.fetchall()]
    # SCHEMA_CHECK=columns (expand/contract): the old code keeps serving on a newer schema that
    # still has its columns, as it must while a migration runs before a zero-downtime swap.
    if revisions != [HEAD] and os.environ.get("SCHEMA_CHECK") != "columns":
        return f"schema revision: expected {HEAD}, got {', '.join(revisions) or 'none'}"
    cursor.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public'"
    )
    present = set(cursor.fetchall())
    missing = [
        f"{table}.{column}"
        for table, columns in SCHEMA["required"].items()
        for column in columns
        if (table, column) not in present
    ]
    if missing:
        return f"schema lacks columns: {', '.join(missing)}"
    return None
