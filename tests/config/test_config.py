"""Configuration: the example file stays valid, and every mistake is reported with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, Environment, Settings, load_settings, parse_settings
from config.targets import split_target
from webhook.cli import main

SECRET = "hunter2-do-not-print-me"
BASE = """
projects:
  crm:
    repo: github.com/acme/crm
    provider: github
    secret: ${CRM_SECRET}
    environments:
      dev:
        trigger: {branch: main}
        path: /srv/crm-dev
        compose: {files: [compose.yml], project: crm_dev}
        health: {url: "http://127.0.0.1:8000/healthz"}
"""


def _problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "test.yml", {"CRM_SECRET": SECRET} if environ is None else environ)
    assert SECRET not in str(caught.value)
    return caught.value.problems


def test_example_config_loads(example_config_path: Path) -> None:
    """config/deployhook.example.yml is valid: a branch to dev and v* tags to prod."""
    settings = load_settings(example_config_path, {"CRM_WEBHOOK_SECRET": "s3cret-for-the-tests"})
    crm = settings.projects["crm"]
    assert (crm.repo_path, crm.provider) == ("acme/crm", "github")
    assert crm.secret.reveal() == "s3cret-for-the-tests"
    triggers = {
        name: (env.trigger.kind, env.trigger.pattern) for name, env in crm.environments.items()
    }
    assert triggers == {"dev": ("branch", "main"), "prod": ("tag", "v*")}
    assert settings.server.max_body_bytes == 25 * 1024 * 1024
    assert settings.redis.url is None  # `deployhook up` supplies the embedded one


def test_every_environment_knows_its_target(example_config_path: Path) -> None:
    """Environment.target is `project/environment`, split back by the one splitter."""
    settings = load_settings(example_config_path, {"CRM_WEBHOOK_SECRET": "s3cret-for-the-tests"})
    assert [env.target for env in settings.every_environment()] == ["crm/dev", "crm/prod"]
    prod = settings.environment("crm", "prod")
    assert (prod.project_name, prod.name) == split_target(prod.target) == ("crm", "prod")
    assert split_target("crm") == ("crm", "")


def test_a_loose_environment_has_no_target(example_config_path: Path) -> None:
    """An Environment made outside Settings refuses to guess its names instead of saying "/"."""
    settings = load_settings(example_config_path, {"CRM_WEBHOOK_SECRET": "s3cret-for-the-tests"})
    loose = Environment.model_validate(settings.environment("crm", "dev").model_dump())
    with pytest.raises(RuntimeError, match="only inside Settings"):
        _ = loose.target


def test_check_config_command(
    example_config_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`deployhook check-config` on the example prints its webhook path and exits 0."""
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", "s3cret-for-the-tests")
    assert main(["check-config", "--config", str(example_config_path)]) == 0
    assert "webhook URL path: /hooks/crm" in capsys.readouterr().out


def test_unknown_keys_are_errors() -> None:
    """A misspelt key is an error naming its path, not a silently ignored setting."""
    problems = _problems(BASE.replace("trigger:", "triger:").replace("provider:", "provder:"))
    assert any(p.startswith("projects.crm.environments.dev.triger: unknown key") for p in problems)
    assert any(p.startswith("projects.crm.provder: unknown key") for p in problems)


def test_every_problem_at_once() -> None:
    """All problems are reported together, each with its own path."""
    text = BASE.replace("provider: github", "provider: svn").replace(
        "project: crm_dev", "project: Crm Dev"
    )
    problems = _problems(text, {})
    assert any(
        p.startswith("projects.crm.secret: environment variable CRM_SECRET") for p in problems
    )
    assert any(p.startswith("projects.crm.provider:") for p in problems)
    assert any(p.startswith("projects.crm.environments.dev.compose.project:") for p in problems)


def test_missing_environment_variable() -> None:
    """An unset or empty ${VAR} names the variable and the key."""
    for environ in ({}, {"CRM_SECRET": ""}):
        assert _problems(BASE, environ) == [
            "projects.crm.secret: environment variable CRM_SECRET is not set or empty"
        ]


def test_secret_file(tmp_path: Path) -> None:
    """`secret_file` reads the secret from a file; missing, empty or doubled is an error."""
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    text = BASE.replace("secret: ${CRM_SECRET}", f"secret_file: {secret_file}")
    settings = parse_settings(text, "test.yml", {})
    assert settings.projects["crm"].secret.reveal() == SECRET
    assert _problems(text.replace(str(secret_file), str(tmp_path / "absent")))[0].startswith(
        "projects.crm.secret_file: cannot read"
    )
    (tmp_path / "empty").write_text("\n")
    assert _problems(text.replace(str(secret_file), str(tmp_path / "empty"))) == [
        f"projects.crm.secret_file: {tmp_path / 'empty'} is empty"
    ]
    both = BASE.replace("secret: ${CRM_SECRET}", f"secret: x\n    secret_file: {secret_file}")
    assert "projects.crm.secret_file: give secret or secret_file, not both" in _problems(both)


def test_secrets_are_masked(tmp_path: Path) -> None:
    """Secrets print as <secret> in repr, str and dumps; errors never contain them."""
    settings = parse_settings(BASE, "test.yml", {"CRM_SECRET": SECRET})
    secret = settings.projects["crm"].secret
    for shown in (
        repr(settings),
        str(settings),
        str(secret),
        repr(secret),
        settings.model_dump_json(),
    ):
        assert SECRET not in shown
    assert "<secret>" in repr(settings)
    # A value that fails validation is not quoted back either.
    wrong_key = BASE.replace(
        "secret: ${CRM_SECRET}", "secret: x-long-enough-secret\n    signing_key: ${CRM_SECRET}"
    )
    assert _problems(wrong_key) == ["projects.crm: signing_key is only for provider gitlab"]
    gitlab = wrong_key.replace("provider: github", "provider: gitlab")
    assert _problems(gitlab) == [
        "projects.crm: signing_key must start with whsec_ (GitLab shows it so)"
    ]


def test_trigger_needs_exactly_one_of_branch_and_tag() -> None:
    """A trigger with both (or neither) of branch and tag says so, with its path."""
    for trigger in ('{branch: main, tag: "v*"}', "{}"):
        text = BASE.replace("{branch: main}", trigger)
        assert _problems(text) == [
            "projects.crm.environments.dev.trigger: give exactly one of branch, tag"
        ]


def test_no_secret_fails_closed() -> None:
    """A project without a secret (or with an empty one) is refused: no unsigned routes."""
    assert _problems(BASE.replace("    secret: ${CRM_SECRET}\n", "")) == [
        "projects.crm.secret: required key is missing"
    ]
    assert _problems(BASE.replace("${CRM_SECRET}", '""')) == [
        "projects.crm.secret: String should have at least 1 character"
    ]


def test_settings_type() -> None:
    """parse_settings returns typed Settings with server defaults filled in."""
    settings = parse_settings(BASE, "test.yml", {"CRM_SECRET": SECRET})
    assert isinstance(settings, Settings)
    assert (settings.server.bind, settings.server.workers) == ("127.0.0.1:8080", 2)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (BASE.replace("${CRM_SECRET}", "q"), "projects.crm.secret"),
        (BASE.replace("${CRM_SECRET}", "fifteen-chars-x"), "projects.crm.secret"),
        (BASE + "auth: {metrics: {token: tok-7}}\n", "auth.metrics.token"),
    ],
)
def test_short_secrets_and_tokens_are_refused(text: str, where: str) -> None:
    """A webhook secret or scrape token under 16 characters is a config error naming its key
    and the fix, never quoting the value."""
    problems = _problems(text)
    assert problems == [
        f"{where}: too short: use at least 16 random characters (make one: openssl rand -hex 32)"
    ]
    assert "fifteen-chars-x" not in problems[0] and "tok-7" not in problems[0]


def test_the_shared_server_token_is_gone_with_a_way_forward() -> None:
    """server.token (one shared token, no identity) is refused, naming per-user tokens."""
    problems = _problems(BASE + "server: {token: a-long-enough-shared-token}\n")
    assert len(problems) == 1 and problems[0].startswith("server.token: server.token is gone")
    assert "deployhook token create NAME --role deployer" in problems[0]
    assert "a-long-enough-shared-token" not in problems[0]
