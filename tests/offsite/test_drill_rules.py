"""The restore drill's pure parts: its argv, what it reads from pg_restore and psql, which
environments it drills, and what a scheduled slot means."""

from __future__ import annotations

import redis

from config import Settings
from jobs.commands import drill
from jobs.offsite.drill import drilled_targets, parse_counts, tables_in_contents
from jobs.offsite.repository import copies_from
from jobs.offsite.schedule import scheduled
from jobs.state.drills import DrillResult, due, last_drill, record_drill

TOC = """;
; Archive created at 2026-12-06 10:15:00 UTC
3346; 1259 16390 TABLE public customers app
3347; 0 16390 TABLE DATA public customers app
3348; 0 16399 TABLE DATA public alembic_version app
3349; 0 0 SEQUENCE SET public customers_id_seq app
3350; 0 16420 TABLE DATA audit events app
"""


def test_drill_argv() -> None:
    """Each question to the throwaway database is exactly this argv."""
    assert drill.dump_contents("c") == [
        "docker", "exec", "--interactive", "c", "pg_restore", "--list",
    ]  # fmt: skip
    assert drill.row_counts("c", "app", "app") == [
        "docker", "exec", "c", "psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1",
        "--quiet", "--tuples-only", "--no-align", "--username", "app", "--dbname", "app",
        "--command", drill.ROW_COUNTS_SQL,
    ]  # fmt: skip
    assert drill.schema("c", "app", "app") == [
        "docker", "exec", "c", "pg_dump", "--schema-only", "--no-owner", "--no-privileges",
        "--no-password", "--username", "app", "--dbname", "app",
    ]  # fmt: skip
    assert drill.name("d-1") == "deployhook-drill-d-1"


def test_tables_come_from_the_table_data_entries() -> None:
    """Every TABLE DATA entry names a table the restore must have; other entries do not."""
    assert tables_in_contents(TOC) == {
        "public.customers", "public.alembic_version", "audit.events",
    }  # fmt: skip


def test_row_counts_are_read_per_table() -> None:
    """`schema.table|rows` lines; anything else is ignored."""
    assert parse_counts("public.customers|42\naudit.events|0\nnoise\n") == {
        "public.customers": 42, "audit.events": 0,
    }  # fmt: skip


def test_copies_keep_only_deployhook_snapshots_newest_first() -> None:
    """A snapshot without the deployhook tag or with several paths is not one of ours."""
    listing = [
        {"id": "a" * 64, "short_id": "aaaaaaaa", "time": "2026-12-01T00:00:00Z",
         "paths": ["/prod-1.dump"], "tags": ["deployhook", "env:crm/prod", "deploy:d-1",
                                             "kind:backup", "schema:ab"]},
        {"id": "b" * 64, "short_id": "bbbbbbbb", "time": "2026-12-02T00:00:00Z",
         "paths": ["/prod-kept-2.dump"], "tags": ["deployhook", "kind:kept"]},
        {"id": "c" * 64, "time": "2026-12-03T00:00:00Z", "paths": ["/etc"], "tags": []},
    ]  # fmt: skip
    copies = copies_from(listing)
    assert [(c.short_id, c.name, c.kind, c.deploy_id, c.schema) for c in copies] == [
        ("bbbbbbbb", "prod-kept-2.dump", "kept", None, None),
        ("aaaaaaaa", "prod-1.dump", "backup", "d-1", "ab"),
    ]


def _settings(offsite: dict[str, object] | None) -> Settings:
    environment: dict[str, object] = {
        "trigger": {"branch": "main"}, "path": "/srv/crm",
        "compose": {"files": ["c.yml"], "project": "crm"}, "health": {"url": "http://h/"},
    }  # fmt: skip
    if offsite is not None:
        environment["backups"] = {"offsite": offsite}
    return Settings.model_validate({"projects": {"crm": {
        "repo": "example.com/a/crm", "provider": "github", "secret": "webhook-secret-0123456789",
        "environments": {"prod": environment, "dev": {**environment, "backups": {}}},
    }}})  # fmt: skip


def test_only_environments_with_a_repository_are_drilled_and_scheduled() -> None:
    """verify-backups without a target drills those with backups.offsite; the schedule lists
    each drill and retention that has a period, for the worker's own queues."""
    settings = _settings(
        {"repository": "/r", "password": "pw", "drill_every": 3600, "retention_every": 86400}
    )
    assert drilled_targets(settings) == ["crm/prod"]
    assert scheduled(settings, ["deploys.local"]) == [
        ("drill", "crm/prod", 3600), ("retention", "crm/prod", 86400),
    ]  # fmt: skip
    assert scheduled(settings, ["deploys.other"]) == []


def test_a_slot_is_claimed_once_per_period(redis_conn: redis.Redis) -> None:
    """The first asker gets the run; every other one in the same period does not."""
    assert due(redis_conn, "drill", "crm/prod", 3600)
    assert not due(redis_conn, "drill", "crm/prod", 3600)
    assert due(redis_conn, "retention", "crm/prod", 3600)


def test_the_last_drill_reads_back(redis_conn: redis.Redis) -> None:
    """A recorded drill reads back equal; nothing recorded reads as None."""
    assert last_drill(redis_conn, "crm/prod") is None
    result = DrillResult(
        "crm/prod", True, "2026-12-06T10:00:00Z", "aaaaaaaa", "p.dump",
        tables={"public.t": 3}, schema_recorded="ab", schema_restored="ab",
    )  # fmt: skip
    record_drill(redis_conn, result)
    assert last_drill(redis_conn, "crm/prod") == result
    assert result.summary().startswith("ok: p.dump (snapshot aaaaaaaa) restored, 1 tables, 3 rows")


def test_a_failed_copy_is_said_in_every_report() -> None:
    """A deploy whose off-site copy failed says so in its commit status, Slack facts and the
    report line; one that copied names its snapshot."""
    from jobs.report.text import describe, offsite
    from jobs.state.records import Deploy

    deploy = Deploy("d-1", "crm", "prod", "tag", "v1", "a" * 40, "test", state="succeeded")
    assert offsite(deploy) is None and "OFF-SITE" not in describe(deploy)
    deploy.offsite_snapshot = "1a2b3c4d"
    assert offsite(deploy) == "snapshot 1a2b3c4d"
    deploy.offsite_snapshot, deploy.offsite_error = None, "repository unreachable"
    assert describe(deploy) == "deployed to prod; OFF-SITE COPY FAILED"
    assert offsite(deploy) == ("FAILED, the backup is on this host only: repository unreachable")
