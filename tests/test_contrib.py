"""contrib/: the systemd units verify and start real CLI verbs; the Caddy example is valid,
terminates TLS for the configured name and proxies to the intake's default bind."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from config.model import Server
from jobs.worker.start import STOP_SECONDS
from webhook.cli import _parser

CONTRIB = Path(__file__).resolve().parent.parent / "contrib"
UNITS = sorted((CONTRIB / "systemd").glob("*.service"))
CADDYFILE = CONTRIB / "caddy" / "Caddyfile"
INSTALLED = "/opt/deployhook/bin/deployhook"  # where docs/production.md installs the CLI


def _directives(unit: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of every directive, repeats kept (systemd allows them)."""
    section, found = "", []
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found


def _verbs() -> set[str]:
    subparsers = next(
        action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)
    )
    return set(subparsers.choices)


def test_there_are_units_for_serve_and_worker() -> None:
    """contrib/systemd has one unit for the intake and one for the worker."""
    assert [unit.name for unit in UNITS] == ["deployhook-web.service", "deployhook-worker.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_unit_commands_are_real_cli_verbs(unit: Path) -> None:
    """Every Exec line runs the installed deployhook with a verb the CLI has, as a non-root
    user with the configuration named."""
    directives = _directives(unit)
    commands = [value.split() for _, key, value in directives if key.startswith("Exec")]
    assert commands, f"expected Exec lines in {unit.name}"
    for command in commands:
        assert command[0] == INSTALLED and command[1] in _verbs(), command
    service = {key: value for section, key, value in directives if section == "Service"}
    assert service["User"] == "deployhook" and service["Restart"] == "on-failure"
    environment = [value for _, key, value in directives if key == "Environment"]
    assert "DEPLOYHOOK_CONFIG=/etc/deployhook/deployhook.yml" in environment
    started = {command[1] for _, key, value in directives if key == "ExecStart"
               for command in [value.split()]}  # fmt: skip
    assert started == {"serve" if "web" in unit.name else "worker"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong, with the CLI at a path that exists here."""
    deployhook = str(Path(sys.executable).parent / "deployhook")  # the venv's, from pyproject
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, deployhook))
    answer = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(path) for path in tmp_path.iterdir())],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert answer.returncode == 0 and answer.stderr.strip() == "", answer.stderr


def _caddy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["caddy", *args, "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
def test_caddy_example_is_valid_tls_in_front_of_the_intake() -> None:
    """`caddy validate` accepts the example; adapted, it serves the example name (so Caddy
    gets a certificate for it), and proxies to server.bind's default with streaming logs;
    only /hooks/* and /healthz skip the auth proxy."""
    validated = _caddy("validate")
    assert validated.returncode == 0, validated.stderr[-2000:]
    adapted = _caddy("adapt")
    assert adapted.returncode == 0, adapted.stderr[-2000:]
    server = next(iter(json.loads(adapted.stdout)["apps"]["http"]["servers"].values()))
    assert server["listen"] == [":443"]
    route = server["routes"][0]
    assert route["match"] == [{"host": ["deploy.example.com"]}]
    handlers = json.dumps(route["handle"])
    assert f'"dial": "{Server().bind}"' in handlers, handlers
    assert '"flush_interval": -1' in handlers and '"max_size": 25000000' in handlers, handlers
    # Only the webhooks and the health check bypass the auth proxy; a client-sent Remote-User
    # is deleted before forward_auth, whose answer alone may set it.
    public = route["handle"][0]["routes"][1]
    assert public["match"] == [{"path": ["/hooks/*", "/healthz"]}]
    assert "9091" not in json.dumps(public)
    guarded = json.dumps(route["handle"][0]["routes"][2])
    deleted = guarded.index('"delete": ["Remote-User"]')
    assert deleted < guarded.index('"dial": "127.0.0.1:9091"') < guarded.rindex(Server().bind)


def test_web_container_gets_no_docker_srv_or_backups() -> None:
    """compose.yml: the internet-facing web container has no Docker socket, no docker group
    and no /srv or backups mount; the worker keeps them."""
    compose = yaml.safe_load((CONTRIB.parent / "compose.yml").read_text())
    web, worker = compose["services"]["web"], compose["services"]["worker"]
    mounts = " ".join(web["volumes"])
    for forbidden in ("docker.sock", "DEPLOYHOOK_SRV", "/srv", "DEPLOYHOOK_BACKUPS", "backups"):
        assert forbidden not in mounts, forbidden
    assert "group_add" not in web
    assert all(volume.endswith(":ro") or "deployhook-web" in volume for volume in web["volumes"])
    assert any("docker.sock" in volume for volume in worker["volumes"])
    assert any("DEPLOYHOOK_SRV" in volume for volume in worker["volumes"])
    assert "group_add" in worker


def _seconds(value: str) -> float:
    """systemd's and Compose's durations as used here: 40s, 2min, 10m, 1m30s."""
    units = {"min": 60, "m": 60, "s": 1, "h": 3600}
    total = 0.0
    for amount, unit in re.findall(r"(\d+)(min|h|m|s)", value):
        total += int(amount) * units[unit]
    return total


def test_service_managers_wait_a_little_longer_than_the_worker_takes_to_stop() -> None:
    """TimeoutStopSec and stop_grace_period exceed the worker's bound by a small margin only."""
    unit = CONTRIB / "systemd" / "deployhook-worker.service"
    systemd = [v for _, key, v in _directives(unit) if key == "TimeoutStopSec"]
    compose = yaml.safe_load((CONTRIB.parent / "compose.yml").read_text())
    grace = compose["services"]["worker"]["stop_grace_period"]
    for waited in (_seconds(systemd[-1]), _seconds(grace)):
        assert STOP_SECONDS < waited <= STOP_SECONDS + 30, (systemd, grace, STOP_SECONDS)
