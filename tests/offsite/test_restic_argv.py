"""restic's argv, exactly, and the `backups.offsite` configuration's refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from config import ConfigError, Secret, parse_settings
from config.model import Database
from config.offsite import Offsite
from jobs.commands import postgres, restic
from jobs.commands.compose import Compose

S3 = Offsite(
    repository="s3:https://s3.example.com/backups/crm",
    password=Secret("pw"),
    env={"AWS_ACCESS_KEY_ID": Secret("id"), "AWS_SECRET_ACCESS_KEY": Secret("key")},
    options={"s3.region": "eu-west-1"},
)
LOCAL = Offsite(repository="/mnt/usb/crm", password=Secret("pw"))
R = ["restic", "--repo", "/mnt/usb/crm"]
R3 = [
    "restic",
    "--repo",
    "s3:https://s3.example.com/backups/crm",
    "--option",
    "s3.region=eu-west-1",
]
TAGS = ["deployhook", "env:crm/prod", "deploy:d-1", "kind:backup", "schema:ab12"]
COMPOSE = Compose(("docker", "compose"), "crm", Path("/srv/crm"), ("compose.yml",))
IN_DB = [*COMPOSE.exec("postgres", [])]

# fmt: off
CASES: list[tuple[str, Callable[[], list[str]], list[str]]] = [
    ("cat config", lambda: restic.cat_config(LOCAL), [*R, "cat", "config"]),
    ("init with options", lambda: restic.init(S3), [*R3, "init"]),
    ("backup from stdin", lambda: restic.backup(LOCAL, "prod-x.dump", TAGS), [
        *R, "backup", "--json", "--quiet", "--host", "deployhook", "--tag", "deployhook",
        "--tag", "env:crm/prod", "--tag", "deploy:d-1", "--tag", "kind:backup",
        "--tag", "schema:ab12", "--stdin", "--stdin-filename", "prod-x.dump"]),
    ("snapshots", lambda: restic.snapshots(LOCAL, "crm/prod"),
        [*R, "snapshots", "--json", "--tag", "env:crm/prod"]),
    ("dump", lambda: restic.dump(LOCAL, "1a2b3c4d", "prod-x.dump"),
        [*R, "dump", "1a2b3c4d", "/prod-x.dump"]),
    ("forget", lambda: restic.forget(LOCAL, "crm/prod", 10, 30), [
        *R, "forget", "--tag", "env:crm/prod", "--group-by", "host", "--keep-last", "10",
        "--keep-within", "30d", "--prune"]),
    ("check", lambda: restic.check(LOCAL), [*R, "check"]),
    ("schema of a dump", lambda: postgres.schema_of_dump(
        Database(service="postgres", name="crm"), COMPOSE), [
        *IN_DB, "pg_restore", "--schema-only", "--no-owner", "--no-privileges", "--file=-"]),
]
# fmt: on


@pytest.mark.parametrize(("name", "build", "expected"), CASES, ids=[c[0] for c in CASES])
def test_restic_argv(name: str, build: Callable[[], list[str]], expected: list[str]) -> None:
    """Each restic command is exactly this argv: no password, no shell, nothing else."""
    assert build() == expected


def test_tags_name_the_environment_deploy_kind_and_schema() -> None:
    """A copy's tags: ours, whose, which deploy, which kind, and the schema when known."""
    assert restic.tags("crm/prod", "d-1", "kept", None) == [
        "deployhook", "env:crm/prod", "deploy:d-1", "kind:kept",
    ]  # fmt: skip


def test_the_password_and_credentials_travel_in_the_environment() -> None:
    """restic gets RESTIC_PASSWORD and the backend's variables, never in argv."""
    assert restic.repository_env(S3) == {
        "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key", "RESTIC_PASSWORD": "pw",
    }  # fmt: skip


def _config(offsite: dict[str, object]) -> str:
    environment = {
        "trigger": {"branch": "main"}, "path": "/srv/crm",
        "compose": {"files": ["compose.yml"], "project": "crm"},
        "health": {"url": "http://127.0.0.1:9/"}, "backups": {"offsite": offsite},
    }  # fmt: skip
    project = {"repo": "example.com/a/b", "provider": "github", "secret": "${S}"}
    return yaml.safe_dump({"projects": {"crm": {**project, "environments": {"prod": environment}}}})


@pytest.mark.parametrize(
    ("offsite", "expected"),
    [
        ({"repository": "/r", "password": "hunter2"}, "password: never written in the configur"),
        ({"repository": "relative/path", "password": "${PW}"}, "offsite.repository"),
        ({"repository": "rest:https://u:p@h/", "password": "${PW}"}, "carries a password"),
        (
            {"repository": "/r", "password": "${PW}", "env": {"RESTIC_PASSWORD": "${PW}"}},
            "give the repository password as password",
        ),
        ({"repository": "/r", "password": "${PW}", "on_failure": "ignore"}, "on_failure"),
        ({"repository": "/r"}, "offsite.password"),
    ],
)
def test_offsite_configuration_refusals(offsite: dict[str, object], expected: str) -> None:
    """A literal password, a relative path, credentials in the URL, a password variable in env,
    an unknown policy and no password at all are refused with the key's path."""
    with pytest.raises(ConfigError) as refused:
        parse_settings(_config(offsite), "test.yml", {"S": "webhook-secret-0123456789", "PW": "pw"})
    assert expected in str(refused.value), refused.value
    assert "hunter2" not in str(refused.value)


def test_password_from_a_file_or_the_environment(tmp_path: Path) -> None:
    """password_file reads the file, ${NAME} the environment; the default policy goes on."""
    (tmp_path / "pw").write_text("from-file\n")
    from_file = parse_settings(
        _config({"repository": "/r", "password_file": str(tmp_path / "pw")}),
        "t",
        {"S": "webhook-secret-0123456789"},
    )
    offsite = from_file.environment("crm", "prod").backups.offsite
    assert offsite is not None and offsite.password.reveal() == "from-file"
    assert offsite.on_failure == "continue"
    from_env = parse_settings(_config({"repository": "/r", "password": "${PW}"}), "t",
                              {"S": "webhook-secret-0123456789", "PW": "from-env"})  # fmt: skip
    offsite = from_env.environment("crm", "prod").backups.offsite
    assert offsite is not None and offsite.password.reveal() == "from-env"
