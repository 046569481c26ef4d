"""Data safety as pure functions and argv: fingerprints, writers, and what reports say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.model import Database
from jobs.commands import postgres
from jobs.commands.compose import Compose
from jobs.compose.model import parse_model
from jobs.database.watch import Fingerprint, compare, read_version, schema_hash
from jobs.database.writers import derive_writers
from jobs.failures.errors import CommandFailed
from jobs.report.text import clip, database_note, describe
from jobs.runbook.undo import needs_restore
from jobs.state.records import Deploy
from webhook.cli import main

COMPOSE = Compose(("docker", "compose"), "crm", Path("/srv/crm"), ("compose.yml",))
BASE = [
    "docker", "compose", "--project-name", "crm", "--project-directory", "/srv/crm",
    "--file", "/srv/crm/compose.yml",
]  # fmt: skip
IN_SERVICE = Database(service="postgres", user="crm", name="crm")
AT_URL = Database(url="postgresql://crm:pw@db.internal:5433/crm", user="crm", name="crm")  # type: ignore[arg-type]
VERSION_SQL = "SELECT version_num FROM alembic_version ORDER BY 1"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            postgres.schema_only(IN_SERVICE, COMPOSE),
            [*BASE, "exec", "-T", "postgres",
             "pg_dump", "--schema-only", "--no-password", "--username", "crm", "--dbname", "crm"],
        ),
        (
            postgres.schema_only(AT_URL, COMPOSE),
            ["pg_dump", "--schema-only", "--no-password", "--username", "crm", "--dbname", "crm"],
        ),
        (
            postgres.catalog(IN_SERVICE, COMPOSE, VERSION_SQL),
            [*BASE, "exec", "-T", "postgres",
             "psql", "--no-password", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align",
             "--username", "crm", "--dbname", "crm", "--command", postgres.RELATIONS_SQL,
             "--command", "\\echo deployhook:version", "--command", VERSION_SQL],
        ),
        (
            postgres.catalog(AT_URL, COMPOSE, None),
            ["psql", "--no-password", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align",
             "--username", "crm", "--dbname", "crm", "--command", postgres.RELATIONS_SQL],
        ),
        (COMPOSE.stop(["api", "worker"]), [*BASE, "stop", "api", "worker"]),
        (COMPOSE.stop(["api"], timeout=1), [*BASE, "stop", "--timeout", "1", "api"]),
    ],
)  # fmt: skip
def test_command_builders_exact_argv(argv: list[str], expected: list[str]) -> None:
    """The fingerprint, version and fast-stop builders produce exactly this argv."""
    assert argv == expected


def test_schema_hash_ignores_comments_blank_lines_and_restrict_keys() -> None:
    """Two dumps of one schema hash alike, whatever their comments and random restrict key."""
    one = b"--\n-- dump\n\\restrict abc\nCREATE TABLE t (id integer);\n\n\\unrestrict abc\n"
    two = b"-- another comment\n\\restrict xyz\n\nCREATE TABLE t (id integer);\n\\unrestrict xyz\n"
    assert schema_hash(one) == schema_hash(two)


def test_schema_hash_sees_a_new_index() -> None:
    """A schema with one more index (even an invalid one) hashes differently."""
    before = b"CREATE TABLE t (id integer);\n"
    after = before + b"CREATE INDEX CONCURRENTLY t_id ON public.t USING btree (id);\n"
    assert schema_hash(before) != schema_hash(after)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (Fingerprint("0001", "aa"), Fingerprint("0001", "aa"), "unchanged"),
        (Fingerprint("0001", "aa"), Fingerprint("0002", "aa"), "changed"),
        (Fingerprint("0001", "aa"), Fingerprint("0001", "bb"), "changed"),
        (Fingerprint("0001", "aa"), None, "unknown"),
        (None, Fingerprint("0001", "aa"), "unknown"),
    ],
)
def test_compare_fingerprints(
    before: Fingerprint | None, after: Fingerprint | None, expected: str
) -> None:
    """Equal fingerprints are unchanged; a changed version or schema is changed; none unknown."""
    assert compare(before, after) == expected


def _model(services: dict[str, Any]) -> Any:
    return parse_model({"services": services})


URL = "postgresql://app@db:5432/app"
WRITER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "depends_on, URL naming the service, proxy and cache left alone",
        {
            "db": {"image": "postgres:16"},
            "api": {"build": {"context": "."}, "depends_on": {"db": {}}},
            "worker": {"build": {"context": "."}, "environment": {"DATABASE_URL": URL}},
            "caddy": {"image": "caddy:2", "depends_on": {"api": {}}},
            "redis": {"image": "redis:7"},
            "web": {"image": "acme/static", "depends_on": {"api": {}}},
        },
        ["api", "worker"],
    ),
    (
        "a proxy that depends on the database is still never a writer",
        {
            "db": {"image": "postgres"},
            "proxy": {"image": "docker.io/library/nginx:1.25", "depends_on": {"db": {}}},
            "cron": {"image": "acme/cron", "environment": {"PGHOST": "db"}},
        },
        ["cron"],
    ),
    (
        "host networking: the database's port in a connection setting",
        {
            "db": {"image": "pg", "environment": {"PGPORT": "6543"}},
            "api": {"image": "acme/api", "environment": {"DATABASE_URL": "postgresql://a@127.0.0.1:6543/a"}},
            "metrics": {"image": "acme/metrics", "environment": {"METRICS_PORT": "6543"}},
            "other": {"image": "acme/other", "environment": {"DB_HOST": "127.0.0.1:6543"}},
        },
        ["api", "other"],
    ),
    (
        "a name that merely contains the service's name is not a reference to it",
        {
            "db": {"image": "pg"},
            "api": {"image": "a", "environment": {"GREETING": "dbadmin", "URL": "http://dbx:80"}},
        },
        [],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("services", "expected"), [case[1:] for case in WRITER_CASES], ids=[c[0] for c in WRITER_CASES]
)
def test_writers_derived_from_the_compose_model(
    services: dict[str, Any], expected: list[str]
) -> None:
    """Writers: services that depend on the database or carry its connection settings."""
    database = Database(service="db", name="app")
    assert derive_writers(_model(services), database) == expected


@pytest.mark.parametrize(
    ("has_database", "started", "change", "expected"),
    [
        (True, {"swap", "migrate", "health"}, "unchanged", False),
        (True, {"swap", "migrate", "health"}, "changed", True),
        (True, {"swap", "migrate"}, "unknown", True),
        (True, {"swap", "migrate"}, None, True),  # died inside the migration
        (True, {"checkout", "build", "swap"}, None, False),  # failed before migrating
        (True, {"swap", "restore", "migrate"}, "unchanged", True),  # operator's restore
        (False, {"swap", "migrate"}, "changed", False),
    ],
)
def test_when_a_revert_restores(
    has_database: bool, started: set[str], change: str | None, expected: bool
) -> None:
    """Restore only when the migration changed the database, or it cannot be proven it did not."""
    assert needs_restore(has_database, started, change) is expected


def _deploy(**changes: Any) -> Deploy:
    deploy = Deploy("d-20261127-140310-abcdef", "crm", "prod", "tag", "v2", "b" * 40, "manual")
    deploy.previous_sha = "a" * 40
    deploy.failed_stage = "health"
    for name, value in changes.items():
        setattr(deploy, name, value)
    return deploy


def test_reverted_without_a_database_change_says_not_restored() -> None:
    """A revert that left the data alone says so in the status description."""
    deploy = _deploy(state="reverted", database_change="unchanged", error="not healthy")
    assert database_note(deploy) == "database unchanged: not restored"
    assert describe(deploy).endswith("; reverted to aaaaaaa (database unchanged: not restored)")


def test_restored_names_the_kept_copy_and_the_time() -> None:
    """A restore names the backup, and where the writes since it was taken are kept."""
    deploy = _deploy(
        state="reverted",
        database_change="changed",
        restored_backup="/b/prod-20261127T140310Z-d-20261127-140310-abcdef.dump",
        kept_database="/b/prod-kept-20261127T140420Z-d-20261127-140310-abcdef.dump",
        kept_writes_since="2026-11-27T14:03:10Z",
    )
    assert database_note(deploy) == (
        "database restored from prod-20261127T140310Z-d-20261127-140310-abcdef.dump; "
        "writes since 14:03:10 kept in prod-kept-20261127T140420Z-d-20261127-140310-abcdef.dump"
    )
    status = clip(describe(deploy), 140)  # GitHub's limit for a commit status description
    assert "kept in prod-kept-20261127T140420Z-d-20261127-140310-abcdef.dump" in status


def test_no_database_note_when_nothing_was_reverted() -> None:
    """A deploy that succeeded or changed nothing carries no database note."""
    assert database_note(_deploy(state="succeeded", database_change="changed")) is None
    assert database_note(_deploy(state="failed")) is None


CONFIG = """
projects:
  crm:
    repo: example.com/acme/crm
    provider: github
    secret: s3cret-for-the-tests
    environments:
      dev:
        trigger: {branch: main}
        path: CHECKOUT
        compose: {files: [docker-compose.yml], project: crm_dev}
        database: {service: postgres, user: app, name: app}
        health: {url: "http://127.0.0.1:8000/"}
"""


def test_check_config_shows_the_derived_writers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config reads the checkout's compose files offline and names the writers."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    sample = Path(__file__).resolve().parents[1] / "sample_app" / "docker-compose.yml"
    front = "  caddy:\n    image: caddy:2\n    depends_on: [api, postgres]\n\nvolumes:"
    (checkout / "docker-compose.yml").write_text(sample.read_text().replace("\nvolumes:", front))
    (checkout / ".env").write_text("PG_PORT=5444\nAPI_PORT=8000\nBASE_IMAGE=debian\n")
    config = tmp_path / "c.yml"
    config.write_text(CONFIG.replace("CHECKOUT", str(checkout)))
    assert main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "writers stopped for a restore: api (derived from the Compose files)" in out
    with (checkout / ".env").open("a") as env:
        env.write("COMPOSE_PROFILES=writer\n")  # the sample app's writer service joins
    assert main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "writers stopped for a restore: api, writer (derived from the Compose files)" in out


def test_check_config_without_a_checkout_says_when_writers_are_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a checkout yet, check-config says the writers are derived at the first restore."""
    config = tmp_path / "c.yml"
    config.write_text(CONFIG.replace("CHECKOUT", str(tmp_path / "nowhere")))
    assert main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert (
        "writers stopped for a restore: derived at the first restore (no docker-compose.yml" in out
    )


@pytest.mark.parametrize(
    ("rows", "errors", "exit_code", "expected"),
    [
        ("0002_phone", "", 0, "0002_phone"),
        ("", "", 0, ""),  # no version query configured, or an empty version table
        (
            "",
            'ERROR:  relation "alembic_version" does not exist\nLINE 1: SELECT ...',
            1,
            'none (ERROR:  relation "alembic_version" does not exist)',
        ),
    ],
)
def test_version_from_the_catalog_query(
    rows: str, errors: str, exit_code: int, expected: str
) -> None:
    """The version rows, or, before the first migration, the missing table as the version."""
    assert read_version(["psql"], rows, errors, exit_code) == expected


@pytest.mark.parametrize(
    ("errors", "exit_code"),
    [("ERROR:  permission denied for table alembic_version", 1), ("", 1)],
)
def test_a_failing_version_query_is_no_fingerprint(errors: str, exit_code: int) -> None:
    """Any other failure of the queries gives no fingerprint (so the change is unknown)."""
    with pytest.raises(CommandFailed):
        read_version(["psql"], "", errors, exit_code)
