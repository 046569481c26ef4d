"""`deployhook`'s own messages and exit codes, through the installed entry point's main()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from webhook.cli import main

CONFIG = """
projects:
  crm:
    repo: github.com/acme/crm
    provider: github
    secret: s3cret-for-the-tests
    environments:
      dev:
        trigger: {branch: main}
        path: PATH
        compose: {files: [compose.yml], project: crm_dev}
        health: {url: "http://127.0.0.1:8000/healthz"}
redis: {url: "redis://127.0.0.1:1/0"}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "deployhook.yml"
    path.write_text(CONFIG.replace("PATH", str(tmp_path / "crm")))
    return path


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a command, deployhook prints its help (listing the commands) and exits 2."""
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: deployhook")
    assert all(name in out for name in ("check-config", "serve", "worker", "up", "doctor"))


def test_unreadable_configuration_exits_1_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A configuration that does not load: exit 1, the loader's message as it is, no trace."""
    missing = tmp_path / "nowhere.yml"
    assert main(["check-config", "--config", str(missing)]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err and not err.startswith("deployhook:")


def test_check_config_prints_the_summary_and_exits_0(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config prints the summary: the project, its environments, queues and Redis."""
    assert main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "configuration OK: 1 project(s)"
    assert out[1:3] == ["crm: github.com/acme/crm via github", "  webhook URL path: /hooks/crm"]
    assert out[-2:] == ["queues: deploys.local", "redis: redis.url; a 202 waits for no replica"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--workers", "0"], "deployhook: --workers must be at least 1, got 0\n"),
        (
            ["worker", "--host", "edge-9"],
            "deployhook: no environment is on host edge-9; hosts in the configuration: local "
            "(set `host:` on an environment to add one)\n",
        ),
    ],
    ids=["serve --workers 0", "worker --host unknown"],
)
def test_process_commands_refuse_bad_options(config: Path, argv: list[str], message: str) -> None:
    """serve and worker refuse a bad option with one line and exit 1, before starting anything."""
    done = subprocess.run(
        [sys.executable, "-m", "webhook.cli", *argv, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr, done.stdout) == (1, message, "")
