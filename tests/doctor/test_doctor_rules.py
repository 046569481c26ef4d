"""The doctor's pure parts: remote URLs, Redis persistence rules, backup room, exact argv,
and check-config's offline warning about the embedded Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import parse_settings
from config.model import Database
from jobs.commands import postgres
from jobs.commands.compose import Compose
from jobs.doctor import commands
from jobs.doctor.check import Status
from jobs.doctor.persistence import judge, settings_from_argv
from jobs.doctor.repository import names_repository, repository_of, without_credentials
from jobs.doctor.stack import named_services
from jobs.doctor.storage import needed_bytes
from tests.support import git_repo
from webhook.cli import main

MB = 1024 * 1024
CONFIG = """
projects:
  crm:
    repo: github.com/acme/crm
    provider: github
    secret: s3cret-value-for-tests
    environments:
      dev:
        trigger: {branch: main}
        path: /srv/crm-dev
        compose: {files: [compose.yml], project: crm_dev}
        health: {url: "http://127.0.0.1:8000/healthz"}
        database: {service: db, user: crm, name: crm, writers: [api, worker]}
        migrate: {service: api}
        hooks:
          after_health: [{command: [smoke-test], service: smoke}]
"""


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("https://github.com/acme/crm.git", "github.com/acme/crm"),
        ("https://x-access-token@GitHub.com/Acme/CRM", "github.com/acme/crm"),
        ("git@github.com:acme/crm.git", "github.com/acme/crm"),
        ("ssh://git@github.com:22/acme/crm.git", "github.com/acme/crm"),
        ("file:///srv/mirrors/github.com/acme/crm.git/", "srv/mirrors/github.com/acme/crm"),
        ("/srv/mirrors/github.com/acme/crm.git", "srv/mirrors/github.com/acme/crm"),
    ],
)
def test_repository_of_each_remote_form(url: str, named: str) -> None:
    """https, scp-like, ssh:// and file/path remotes reduce to host/owner/name, no user or port."""
    assert repository_of(url) == named


@pytest.mark.parametrize(
    ("url", "matches"),
    [
        ("git@github.com:acme/crm.git", True),
        ("file:///srv/mirrors/github.com/acme/crm.git", True),
        ("git@github.com:acme/crm-old.git", False),
        ("git@gitlab.com:acme/crm.git", False),
        ("file:///srv/other.git", False),
        ("https://github.com/evil/acme/crm-fork", False),
    ],
)
def test_remote_names_the_configured_repository(url: str, matches: bool) -> None:
    """A remote matches github.com/acme/crm only when it names exactly that repository."""
    assert names_repository(url, "github.com/acme/crm") is matches


@pytest.mark.parametrize(
    ("settings", "status", "words"),
    [
        ({"appendonly": "yes", "appendfsync": "always", "save": ""}, Status.OK, "every write"),
        ({"appendonly": "yes", "appendfsync": "everysec"}, Status.WARN, "up to a second"),
        ({"appendonly": "yes", "appendfsync": "no"}, Status.WARN, "appendfsync no"),
        ({"appendonly": "no", "save": "3600 1 300 100"}, Status.WARN, "snapshots only"),
        ({"appendonly": "no", "save": ""}, Status.FAIL, "persists nothing"),
        ({}, Status.FAIL, "persists nothing"),
    ],
)
def test_redis_persistence_rules(settings: dict[str, str], status: Status, words: str) -> None:
    """Only an append-only file with fsync always keeps every 202; nothing at all fails."""
    finding = judge(settings, "Redis")
    assert (finding.status, words in finding.detail) == (status, True), finding
    assert status == Status.OK or "appendfsync always" in finding.fix


def test_settings_from_a_redis_command_line() -> None:
    """`--name value` pairs of redis-server's argv read as CONFIG GET names them."""
    argv = ["redis-server", "--port", "0", "--appendonly", "yes", "--save", ""]
    assert settings_from_argv(argv) == {"port": "0", "appendonly": "yes", "save": ""}


@pytest.mark.parametrize(
    ("min_free_mb", "database", "newest", "needed"),
    [
        (512, None, None, 512 * MB),
        (1, 300 * MB, None, 300 * MB),
        (1, 100 * MB, 80 * MB, 160 * MB),
        (1024, 100 * MB, 80 * MB, 1024 * MB),
    ],
)
def test_room_a_backup_needs(
    min_free_mb: int, database: int | None, newest: int | None, needed: int
) -> None:
    """The most of min_free_mb, the database's size on disk and twice the last backup."""
    assert needed_bytes(min_free_mb, database, newest) == needed


def test_git_probe_argv() -> None:
    """The doctor's own commands, exactly: none fetches into or touches the checkout."""
    path = Path("/srv/crm")
    assert commands.git_dir(path) == ["git", "-C", "/srv/crm", "rev-parse", "--git-dir"]
    assert commands.remote_url(path, "origin") == [
        "git", "-C", "/srv/crm", "remote", "get-url", "--", "origin",
    ]  # fmt: skip
    assert commands.docker_version() == ["docker", "version", "--format", "{{.Server.Version}}"]


def test_database_probe_argv() -> None:
    """pg_dump of the schema only, and the size query, in the database service as its user."""
    compose = Compose(("docker", "compose"), "crm_dev", Path("/srv/crm"), ("compose.yml",))
    database = Database(service="db", user="crm", name="crm")
    exec_prefix = [
        "docker", "compose", "--project-name", "crm_dev", "--project-directory", "/srv/crm",
        "--file", "/srv/crm/compose.yml", "exec", "-T", "db",
    ]  # fmt: skip
    assert postgres.schema_only(database, compose) == [
        *exec_prefix,
        "pg_dump", "--schema-only", "--no-password", "--username", "crm", "--dbname", "crm",
    ]  # fmt: skip
    assert postgres.database_size(database, compose) == [
        *exec_prefix,
        "psql", "--no-password", "--set", "ON_ERROR_STOP=1", "--quiet", "--tuples-only",
        "--no-align", "--username", "crm", "--dbname", "crm",
        "--command", "SELECT pg_database_size(current_database())",
    ]  # fmt: skip


def test_named_services_with_their_keys() -> None:
    """Every service the configuration names, with the key to change when one is missing."""
    settings = parse_settings(CONFIG, "test.yml", {})
    assert named_services(settings.environment("crm", "dev")) == {
        "db": "database.service",
        "api": "migrate.service",
        "worker": "database.writers",
        "smoke": "hooks.after_health",
    }


def test_named_services_include_zero_downtime_services() -> None:
    """Services swapped without downtime must exist too; doctor names the key that lists them."""
    config = CONFIG.replace("migrate: {service: api}", "migrate: {service: api, when: before_swap}")
    config += "        zero_downtime: [api, web]\n"
    named = named_services(parse_settings(config, "test.yml", {}).environment("crm", "dev"))
    assert (named["api"], named["web"]) == ("migrate.service", "zero_downtime")


def test_check_config_warns_offline_about_the_embedded_redis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config says what the embedded Redis can lose, without starting or reaching it."""
    path = tmp_path / "deployhook.yml"
    path.write_text(CONFIG + f"state_dir: {tmp_path / 'state'}\n")
    assert main(["check-config", "--config", str(path)]) == 0
    shown = capsys.readouterr().err
    warnings = [line for line in shown.splitlines() if line.startswith("warning: redis:")]
    from webhook.embedded_redis import server_argv

    fsyncs_always = "always" in server_argv(Path("r"), Path("d"), Path("s"))
    assert (warnings == []) is fsyncs_always, shown
    assert not (tmp_path / "state").exists(), "check-config must not start anything"


def test_doctor_refuses_an_unknown_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`deployhook doctor nope/dev` exits 1 and names the configured environments."""
    path = tmp_path / "deployhook.yml"
    path.write_text(CONFIG)
    assert main(["doctor", "nope/dev", "--config", str(path)]) == 1
    assert "configured: crm/dev" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://x-access-token:ghp_T0KEN@github.com/acme/crm.git",
            "https://***@github.com/acme/crm.git",
        ),
        ("https://ghp_T0KEN@github.com/acme/crm.git", "https://***@github.com/acme/crm.git"),
        (
            "ssh://deploy:pa55@git.example.com/acme/crm.git",
            "ssh://***@git.example.com/acme/crm.git",
        ),
        ("ssh://git@github.com/acme/crm.git", "ssh://git@github.com/acme/crm.git"),
        ("git@github.com:acme/crm.git", "git@github.com:acme/crm.git"),
        ("https://github.com/acme/crm.git", "https://github.com/acme/crm.git"),
    ],
)
def test_remote_urls_are_shown_without_credentials(url: str, shown: str) -> None:
    """A token or password in a remote URL is shown as ***; a plain ssh user is not a secret."""
    assert without_credentials(url) == shown


def test_doctor_never_prints_a_token_from_the_remote_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """doctor on a checkout whose remote carries a token (and cannot be fetched) prints the
    remote and git's failure without the token."""
    checkout = tmp_path / "crm"
    token = "ghp_Zq8sV3cretT0kenValue0123456789"
    git_repo.git(tmp_path, "init", "-q", str(checkout))
    remote = f"https://x-access-token:{token}@127.0.0.1:9/acme/crm.git"
    git_repo.git(checkout, "remote", "add", "origin", remote)
    config = tmp_path / "deployhook.yml"
    config.write_text(
        DOCTOR_CONFIG.replace("PATH", str(checkout)).replace("STATE", str(tmp_path / "state"))
    )
    main(["doctor", "crm/dev", "--config", str(config)])
    shown = capsys.readouterr().out
    assert "https://***@127.0.0.1:9/acme/crm.git" in shown
    assert token not in shown and "x-access-token" not in shown


DOCTOR_CONFIG = """
state_dir: STATE
projects:
  crm:
    repo: 127.0.0.1:9/acme/crm
    provider: github
    secret: s3cret-for-the-tests
    environments:
      dev:
        trigger: {branch: main}
        path: PATH
        compose: {files: [compose.yml], project: crm_dev}
        health: {url: "http://127.0.0.1:9/healthz", timeout: 1}
"""
