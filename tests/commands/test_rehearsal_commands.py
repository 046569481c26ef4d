"""Exact argv of the rehearsal's and the ancestry check's commands, and their configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from config.model import Environment
from jobs.commands import git as git_commands
from jobs.commands import rehearsal
from jobs.commands.rehearsal import Container, Mount
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.rehearse import write_env_file

ENV_FILE = Path("/tmp/x/database.env")
DEPLOY = "d-20261127-160000-abcdef"


@pytest.mark.parametrize(
    ("container", "argv"),
    [
        (
            Container(
                name="deployhook-rehearse-" + DEPLOY, image="sha256:db", deploy_id=DEPLOY,
                env_file=ENV_FILE, network="none", detach=True, add_hosts=("postgres:127.0.0.1",),
                command=("sh", "/db/start.sh"),
                mounts=(Mount("/db", "/srv/app/db"), Mount("/var/lib/postgresql/data")),
            ),
            [
                "docker", "run", "--detach", "--name", "deployhook-rehearse-" + DEPLOY,
                "--label", f"deployhook.rehearsal={DEPLOY}", "--network", "none",
                "--add-host", "postgres:127.0.0.1", "--env-file", str(ENV_FILE),
                "--mount", "type=bind,source=/srv/app/db,target=/db,readonly",
                "--tmpfs", "/var/lib/postgresql/data",
                "sha256:db", "sh", "/db/start.sh",
            ],
        ),
        (
            Container(
                name="m", image="sha256:api", deploy_id=DEPLOY, env_file=ENV_FILE,
                network="container:db", command=("alembic", "upgrade", "head"), entrypoint="",
                user="1000:1000", workdir="/app",
            ),
            [
                "docker", "run", "--rm", "--name", "m",
                "--label", f"deployhook.rehearsal={DEPLOY}", "--network", "container:db",
                "--env-file", str(ENV_FILE), "--user", "1000:1000", "--workdir", "/app",
                "--entrypoint", "", "sha256:api", "alembic", "upgrade", "head",
            ],
        ),
    ],
)  # fmt: skip
def test_run_argv(container: Container, argv: list[str]) -> None:
    """Throwaway containers: labelled, no port, tmpfs or read-only binds, env from a file."""
    assert rehearsal.run(container) == argv
    assert not any(word in argv for word in ("--publish", "-p", "--volume", "-v"))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            rehearsal.is_ready("db", "app", "crm"),
            ["docker", "exec", "db", "pg_isready", "--quiet", "--host", "127.0.0.1",
             "--username", "app", "--dbname", "crm"],
        ),
        (
            rehearsal.restore("db", "app", "crm"),
            ["docker", "exec", "--interactive", "db", "pg_restore", "--no-password",
             "--single-transaction", "--exit-on-error", "--username", "app", "--dbname", "crm"],
        ),
        (rehearsal.remove("db"), ["docker", "rm", "--force", "db"]),
        (rehearsal.logs("db"), ["docker", "logs", "--tail", "30", "db"]),
        (
            git_commands.is_ancestor(Path("/srv/crm"), "a" * 40, "b" * 40),
            ["git", "-C", "/srv/crm", "merge-base", "--is-ancestor", "a" * 40, "b" * 40],
        ),
    ],
)  # fmt: skip
def test_command_argv(argv: list[str], expected: list[str]) -> None:
    """Each builder's exact argv."""
    assert argv == expected


def test_names_carry_the_deploy_id() -> None:
    """Both throwaway containers are named after the deploy, so leftovers are attributable."""
    assert rehearsal.database_name(DEPLOY) == f"deployhook-rehearse-{DEPLOY}"
    assert rehearsal.migration_name(DEPLOY) == f"deployhook-rehearse-{DEPLOY}-migrate"


def _environment(migrate: dict[str, Any], database: dict[str, Any] | None) -> Environment:
    data: dict[str, Any] = {
        "trigger": {"branch": "main"},
        "path": "/srv/crm",
        "compose": {"files": ["compose.yml"], "project": "crm"},
        "health": {"url": "http://127.0.0.1:8000/healthz"},
        "migrate": migrate,
    }
    if database is not None:
        data["database"] = database
    return Environment.model_validate(data)


@pytest.mark.parametrize(
    ("rehearse", "expected"),
    [
        (True, {"slow_after": 60.0, "timeout": None, "ready_timeout": 120.0}),
        (False, None),
        ({"slow_after": 5}, {"slow_after": 5.0, "timeout": None, "ready_timeout": 120.0}),
    ],
)
def test_rehearse_option(rehearse: object, expected: dict[str, Any] | None) -> None:
    """`rehearse: true` takes the defaults, false turns it off, a mapping sets fields."""
    database = {"service": "postgres", "name": "crm"}
    environment = _environment({"rehearse": rehearse}, database)
    assert environment.migrate is not None
    found = environment.migrate.rehearse
    assert (found.model_dump() if found is not None else None) == expected


def test_rehearse_needs_a_database_service() -> None:
    """A database at a URL cannot be rehearsed: the configuration says so and what to do."""
    with pytest.raises(ValidationError, match=r"migrate\.rehearse needs database\.service"):
        _environment({"rehearse": True}, {"url": "postgresql://u@db/crm", "name": "crm"})


def test_rehearse_refuses_unknown_keys() -> None:
    """A misspelt rehearse key is an error, not a silently ignored setting."""
    with pytest.raises(ValidationError, match="slow_afterr"):
        _environment({"rehearse": {"slow_afterr": 5}}, {"service": "postgres", "name": "crm"})


def test_env_file_holds_values_and_refuses_multiline(tmp_path: Path) -> None:
    """Variables go to a private env-file (pass-throughs set empty); multi-line refused."""
    path = tmp_path / "app.env"
    write_env_file(path, {"DATABASE_URL": "postgresql://u:p@postgres/crm", "FROM_HOST": ""})
    assert path.read_text() == "DATABASE_URL=postgresql://u:p@postgres/crm\nFROM_HOST=\n"
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(StageFailed, match="KEY: a multi-line value"):
        write_env_file(tmp_path / "bad.env", {"KEY": "line one\nline two"})


def test_check_config_names_the_rehearsal(
    example_config_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check-config` on the example says which environment rehearses its migrations."""
    from webhook.cli import main

    monkeypatch.setenv("CRM_WEBHOOK_SECRET", "s3cret-for-the-tests")
    assert main(["check-config", "--config", str(example_config_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    prod = next(line for line in lines if line.startswith("  prod:"))
    dev = next(line for line in lines if line.startswith("  dev:"))
    assert "rehearses migrations" in prod and "rehearses migrations" not in dev
    assert "older commits" not in prod
