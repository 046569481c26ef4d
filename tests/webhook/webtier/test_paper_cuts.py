"""The newcomer's paper cuts: each mistake a new user makes gets a message that says the fix."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from config import ConfigError, parse_settings
from config.plaintext import plain_text_secrets
from jobs.execution.deploylog import DeployLog
from jobs.state.records import DeployStore
from tests.support.deliveries import payload, post_github
from webhook.cli import _parser, main
from webhook.embedded_redis import embedded_redis
from webhook.logs import JsonFormatter

CONFIG = """
state_dir: %(state)s
projects:
  crm:
    repo: %(repo)s
    provider: github
    secret: %(secret)s
    environments:
      dev:
        trigger: {branch: main}
        path: /srv/crm-dev
        compose: {files: [compose.yml], project: crm_dev}
        health: {url: "http://127.0.0.1:8000/healthz"}
"""


def _config(state: Path, repo: str = "github.com/acme/crm", secret: str | None = None) -> str:
    return CONFIG % {"state": state, "repo": repo, "secret": secret or "${SECRET}"}


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "test.yml", {"SECRET": "s3cret-for-the-tests"})
    return caught.value.problems


@pytest.mark.parametrize("repo", ["acme/crm", "crm", "github.com/crm", "acme/team/crm"])
def test_repo_without_host_is_refused_with_the_expected_form(repo: str, tmp_path: Path) -> None:
    """`repo: acme/crm` (no host) is a config error naming host/owner/name and the value."""
    (problem,) = _problems(_config(tmp_path, repo=repo))
    assert problem.startswith("projects.crm.repo: expected host/owner/name")
    assert repr(repo) in problem


@pytest.mark.parametrize(
    "repo", ["github.com/acme/crm", "localhost/acme/crm", "git.example.com:3000/a/b/c"]
)
def test_repo_with_host_is_accepted(repo: str, tmp_path: Path) -> None:
    """Host names with a dot or a port, and localhost, are hosts."""
    secrets = {"SECRET": "s3cret-for-the-tests"}
    settings = parse_settings(_config(tmp_path, repo=repo), "test.yml", secrets)
    assert settings.projects["crm"].repo == repo


def test_pydantic_wording_is_rewritten_for_yaml(tmp_path: Path) -> None:
    """Type errors read as a YAML editor would say them, not as pydantic's internals."""
    text = _config(tmp_path) + "server: {workers: many, bind: [a]}\n"
    problems = _problems(text)
    assert "server.workers: expected a whole number" in problems
    assert any(p.startswith("server.bind: expected text") for p in problems), problems
    assert not any("valid integer" in p or "valid string" in p for p in problems)


def test_forbidden_answer_names_expected_and_arrived_repository(client: FlaskClient) -> None:
    """A signed push for another repository gets 403 naming both repositories."""
    data = payload("github-push.json")
    data["repository"]["full_name"] = "acme/other"
    data["repository"]["html_url"] = "https://github.com/acme/other"
    answer = post_github(client, data)
    assert answer.status_code == 403
    message = answer.json["error"]
    assert "github.com/acme/crm" in message and "github.com/acme/other" in message


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`deployhook --version` prints the installed version and exits 0."""
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("deployhook ")


def test_every_cli_argument_has_help() -> None:
    """Every option and argument of every command says what it is for."""
    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, child in action.choices.items():
                    walk(child, f"{name} {sub}")
            elif not action.help:
                missing.append(f"{name} {action.option_strings or action.dest}")

    walk(_parser(), "deployhook")
    assert missing == []


def test_plain_text_secret_gets_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config warns, naming the key, when a secret is written in the file itself."""
    config = tmp_path / "deployhook.yml"
    config.write_text(_config(tmp_path, secret="hunter2-in-the-file"))
    assert main(["check-config", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning: projects.crm.secret: a secret written in the configuration file" in err
    assert "hunter2-in-the-file" not in err


def test_example_config_has_no_plain_text_secret(example_config_path: Path) -> None:
    """The example shows the right way: every secret comes from the environment."""
    assert plain_text_secrets(example_config_path) == []


def test_cli_finds_the_redis_that_up_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no Redis URL anywhere, CLI verbs use the embedded Redis in the state directory."""
    monkeypatch.delenv("DEPLOYHOOK_REDIS_URL", raising=False)
    monkeypatch.setenv("SECRET", "s3cret-for-the-tests")
    state = tmp_path / "st"
    config = tmp_path / "deployhook.yml"
    config.write_text(_config(state))
    assert main(["history", "--config", str(config)]) == 1  # nothing runs: says what to do
    assert "DEPLOYHOOK_REDIS_URL" in capsys.readouterr().err
    with embedded_redis(state / "redis"):
        assert main(["history", "--config", str(config)]) == 0


def test_openapi_documents_every_route_of_the_whole_app(app: Flask) -> None:
    """The intake's routes (/hooks/{project}, /healthz, /api/deploys/{id}) are documented too."""
    document = app.test_client().get("/api/openapi.json").get_json()
    validate(document)
    served = {
        rule.rule.replace("<project_name>", "<project>").replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.endswith("static")
    }
    assert served - set(document["paths"]) == set()
    assert "408" in document["paths"]["/hooks/{project}"]["post"]["responses"]


@pytest.mark.parametrize(("method", "path"), [("post", "/healthz"), ("get", "/hooks/crm"),
                                              ("delete", "/api/deploys")])  # fmt: skip
def test_405_names_the_allowed_methods(client: FlaskClient, method: str, path: str) -> None:
    """A wrong method gets 405 with an Allow header listing the right ones."""
    answer = getattr(client, method)(path)
    assert answer.status_code == 405
    allowed = {word.strip() for word in answer.headers["Allow"].split(",")}
    assert allowed & {"GET", "POST"}
    assert answer.json["error"]


def test_deploy_log_lines_are_one_flat_json_object(
    redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A deploy's log line is one JSON object with deploy_id as a field, secrets masked."""
    caplog.set_level(logging.INFO, logger="deployhook")
    log = DeployLog(DeployStore(redis_conn), "d-20260101-000000-abcdef", secrets=["hunter2"])
    log.info("pulling with hunter2", stage="fetch", detail="token hunter2")
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["deploy_id"] == "d-20260101-000000-abcdef"
    assert line["message"] == "pulling with <secret>"
    assert (line["stage"], line["detail"]) == ("fetch", "token <secret>")


def test_tracebacks_are_json_frames_without_the_exception_text() -> None:
    """An exception's frames are a JSON list in the same line; its text is left out."""
    try:
        raise RuntimeError("payload secret text")
    except RuntimeError:
        record = logging.LogRecord("deployhook.x", logging.ERROR, __file__, 1, "boom", None, None)
        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["exception"] == "RuntimeError"
    assert any("test_tracebacks_are_json_frames" in frame for frame in line["traceback"])
    assert "payload secret text" not in text


ROOT = Path(__file__).resolve().parents[3]


def _documentation() -> str:
    return "\n".join(
        path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    )


def test_every_deployhook_environment_variable_is_documented() -> None:
    """Each DEPLOYHOOK_* variable the code, image or compose.yml reads is in the docs."""
    sources = [*ROOT.glob("webhook/**/*.py"), *ROOT.glob("jobs/**/*.py"),
               *ROOT.glob("config/*.py"), ROOT / "Dockerfile", ROOT / "compose.yml"]  # fmt: skip
    used = {
        name for path in sources for name in re.findall(r"DEPLOYHOOK_[A-Z_]+", path.read_text())
    }
    documentation = _documentation()
    assert sorted(name for name in used if name not in documentation) == []


def test_compose_file_points_at_real_readme_sections() -> None:
    """The headings compose.yml tells the reader to read exist in the documentation."""
    comment = (ROOT / "compose.yml").read_text().split("\n\n", 1)[0]
    named = re.findall(r'"([^"]+)"', comment)
    assert named
    headings = {
        line.lstrip("#").strip() for line in _documentation().splitlines() if line.startswith("#")
    }
    assert [name for name in named if name not in headings] == []


def test_a_log_line_with_a_lone_surrogate_still_encodes() -> None:
    """A field holding unencodable text still gives one line of valid UTF-8 JSON."""
    record = logging.LogRecord("deployhook.x", logging.INFO, __file__, 1, "m\ud800", None, None)
    record.fields = {"ref": "v1\udfff"}
    text = JsonFormatter().format(record)
    text.encode("utf-8")
    assert json.loads(text)["ref"] == "v1\ufffd"
