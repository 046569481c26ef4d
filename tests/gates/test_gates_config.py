"""Gate and hook options: the example shows them, and each mistake is reported with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings, parse_settings
from webhook.cli import main

BASE = """
projects:
  crm:
    repo: github.com/acme/crm
    provider: github
    secret: s3cret-for-the-tests
    environments:
      staging:
        trigger: {branch: main}
        path: /srv/crm-staging
        compose: {files: [compose.yml], project: crm_staging}
        health: {url: "http://127.0.0.1:8000/healthz"}
      prod:
        trigger: {tag: "v*"}
        path: /srv/crm
        compose: {files: [compose.yml], project: crm}
        health: {url: "http://127.0.0.1:9000/healthz"}
"""


def _problems(extra: str, notify: str = "") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(BASE + extra + notify, "test.yml", {})
    return caught.value.problems


def _prod(option: str) -> str:
    return "".join(f"        {line}\n" for line in option.strip().splitlines())


def test_example_shows_the_gates(example_config_path: Path) -> None:
    """The example's prod environment has a promotion gate, a window and a cache-warm hook."""
    secrets = {"CRM_WEBHOOK_SECRET": "s3cret-for-the-tests"}
    prod = load_settings(example_config_path, secrets).environment("crm", "prod")
    assert prod.promote_from == ["dev"]
    assert [(w.days, w.hours, w.timezone) for w in prod.windows] == [
        (["mon", "tue", "wed", "thu"], "09:00-16:00", "Europe/Berlin")
    ]
    [hook] = prod.hooks.after_health
    assert (hook.service, hook.mode, hook.command) == (
        "api",
        "exec",
        ["python", "-m", "crm.warm_cache"],
    )


def test_valid_gates_load() -> None:
    """Every option together is accepted, with its defaults."""
    text = (
        BASE
        + _prod("""
promote_from: [staging]
wait_for_checks: {timeout: 600}
windows: [{days: [mon], hours: "22:00-02:00", timezone: America/New_York}]
hooks:
  before_backup: [{command: [./scripts/maintenance-on]}]
  after_revert: [{service: api, mode: run, command: [sh, -c, "echo reverted"]}]
""")
        + "notify: {github: {token: t}}\n"
    )
    prod = parse_settings(text, "test.yml", {}).environment("crm", "prod")
    assert prod.wait_for_checks is not None
    assert (prod.wait_for_checks.timeout, prod.wait_for_checks.interval) == (600, 10)
    assert prod.hooks.describe() == ["before backup: 1", "after revert: 1"]


@pytest.mark.parametrize(
    ("option", "notify", "expected"),
    [
        (
            "promote_from: [qa]",
            "",
            "projects.crm.environments.prod.promote_from: 'qa' is not another environment",
        ),
        (
            "promote_from: [prod]",
            "",
            "projects.crm.environments.prod.promote_from: 'prod' is not another environment",
        ),
        (
            "wait_for_checks: {}",
            "",
            "projects.crm.environments.prod.wait_for_checks: reading CI results needs a token: "
            "add notify.github.token",
        ),
        (
            "wait_for_checks: {timeout: 0}",
            "notify: {github: {token: t}}",
            "projects.crm.environments.prod.wait_for_checks.timeout:",
        ),
        (
            "wait_for_checks: {timeout: 86400}",
            "notify: {github: {token: t}}",
            "projects.crm.environments.prod.wait_for_checks.timeout: Input should be less than",
        ),
        (
            "windows: [{days: [monday]}]",
            "",
            "projects.crm.environments.prod.windows.0.days.0:",
        ),
        (
            "windows: [{hours: '9-17'}]",
            "",
            "projects.crm.environments.prod.windows.0.hours: expected HH:MM-HH:MM",
        ),
        (
            "windows: [{hours: '09:00-24:30'}]",
            "",
            "projects.crm.environments.prod.windows.0.hours: expected HH:MM-HH:MM",
        ),
        (
            "windows: [{hours: '09:00-09:00'}]",
            "",
            "projects.crm.environments.prod.windows.0.hours: '09:00-09:00' is an empty window",
        ),
        (
            "windows: [{timezone: Mars/Olympus}]",
            "",
            "projects.crm.environments.prod.windows.0.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            "hooks: {after_deploy: [{command: [true]}]}",
            "",
            "projects.crm.environments.prod.hooks.after_deploy: unknown key",
        ),
        (
            "hooks: {after_health: [{command: []}]}",
            "",
            "projects.crm.environments.prod.hooks.after_health.0.command:",
        ),
        (
            "hooks: {after_health: [{command: 'curl -X POST x'}]}",
            "",
            "projects.crm.environments.prod.hooks.after_health.0.command: give the command as a "
            "list of words (argv)",
        ),
        (
            "hooks: {after_health: [{command: [x], mode: shell}]}",
            "",
            "projects.crm.environments.prod.hooks.after_health.0.mode:",
        ),
    ],
)
def test_mistakes_name_their_key(option: str, notify: str, expected: str) -> None:
    """check-config names the path of each bad gate or hook option and what to write."""
    problems = _problems(_prod(option), notify + "\n" if notify else "")
    assert any(problem.startswith(expected) for problem in problems), problems


def test_check_config_summarises_the_gates(
    example_config_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`deployhook check-config` lists each environment's gates and hooks under it."""
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", "s3cret-for-the-tests")
    assert main(["check-config", "--config", str(example_config_path)]) == 0
    out = capsys.readouterr().out
    assert "    gate: promote from dev\n" in out
    assert "    gate: window mon,tue,wed,thu 09:00-16:00 Europe/Berlin: " in out
    assert "    gate: hooks (after health: 1)" in out
