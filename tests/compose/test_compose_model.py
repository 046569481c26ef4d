"""The effective Compose model: what `compose config --format json` says each service is."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jobs.compose.model import PublishedPort, ServiceMount, parse_model

CONFIG: dict[str, Any] = {
    "services": {
        "api": {
            "image": "acme/api",
            "build": {"context": "/srv/crm", "dockerfile": "Dockerfile"},
            "deploy": {"replicas": 2},
            "environment": {"DATABASE_URL": "postgresql://u@db/app", "EMPTY": None},
            "depends_on": {"db": {"condition": "service_started", "required": True}},
            "healthcheck": {"test": ["CMD", "true"], "interval": "2s"},
            "stop_grace_period": "20s",
            "ports": [
                {"mode": "ingress", "host_ip": "127.0.0.1", "target": 8000, "published": "8000"},
                {"mode": "ingress", "target": 9000, "protocol": "tcp"},
            ],
        },
        "web": {"image": "nginx", "container_name": "web1", "network_mode": "host"},
        "db": {
            "image": "postgres:16",
            "command": ["sh", "/db/start.sh"],
            "entrypoint": "docker-entrypoint.sh --verbose",
            "user": "999",
            "working_dir": "/var/lib/postgresql",
            "volumes": [
                {"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"},
                {"type": "bind", "source": "/srv/crm/db", "target": "/db", "read_only": True},
            ],
            "tmpfs": ["/run:size=64m"],
        },
        "off": {"image": "x", "healthcheck": {"test": ["NONE"]}},
        "disabled": {"image": "x", "healthcheck": {"disable": True, "test": ["CMD", "true"]}},
    }
}


@pytest.mark.parametrize(
    ("service", "attribute", "expected"),
    [
        ("api", "image", "acme/api"),
        ("api", "builds", True),
        ("api", "replicas", 2),
        ("api", "depends_on", ("db",)),
        ("api", "environment", {"DATABASE_URL": "postgresql://u@db/app", "EMPTY": ""}),
        ("api", "has_healthcheck", True),
        ("api", "stop_grace_period", "20s"),
        ("api", "health_interval", "2s"),
        ("api", "health_start_period", None),
        ("web", "health_interval", None),
        ("api", "fixed_host_ports", (PublishedPort(8000, "8000", "127.0.0.1"),)),
        ("web", "builds", False),
        ("web", "container_name", "web1"),
        ("web", "network_mode", "host"),
        ("web", "has_healthcheck", False),
        ("web", "ports", ()),
        ("off", "has_healthcheck", False),
        ("db", "command", ("sh", "/db/start.sh")),
        ("db", "entrypoint", ("docker-entrypoint.sh", "--verbose")),
        ("db", "user", "999"),
        ("db", "working_dir", "/var/lib/postgresql"),
        (
            "db",
            "mounts",
            (
                ServiceMount("volume", "/var/lib/postgresql/data", "pgdata"),
                ServiceMount("bind", "/db", "/srv/crm/db", read_only=True),
            ),
        ),
        ("db", "tmpfs", ("/run",)),
        ("web", "command", ()),
        ("web", "mounts", ()),
        ("web", "user", None),
        ("disabled", "has_healthcheck", False),
        ("api", "healthcheck", "compose"),
        ("web", "healthcheck", "image"),
        ("off", "healthcheck", "disabled"),
        ("disabled", "healthcheck", "disabled"),
    ],
)
def test_parse_model_reads_each_field(service: str, attribute: str, expected: object) -> None:
    """Each field of a service is read from Compose's normalised JSON."""
    assert getattr(parse_model(CONFIG).services[service], attribute) == expected


@pytest.mark.parametrize(
    ("healthcheck", "source"),
    [
        ({}, "image"),  # none in the Compose files: Docker runs the image's HEALTHCHECK
        ({"interval": "2s", "start_period": "30s"}, "image"),  # timings only: the image's test
        ({"test": []}, "image"),
        ({"test": ["CMD", "true"]}, "compose"),
        ({"test": ["CMD-SHELL", "curl -f localhost"]}, "compose"),
        ({"test": "curl -f localhost"}, "compose"),
        ({"test": ["NONE"]}, "disabled"),  # switches the image's off too
        ({"test": "NONE"}, "disabled"),
        ({"disable": True}, "disabled"),
        ({"disable": True, "test": ["CMD", "true"]}, "disabled"),
    ],
)
def test_healthcheck_source_tells_absent_from_disabled(
    healthcheck: dict[str, Any], source: str
) -> None:
    """Absent (the image's runs), disabled (none runs) and given are three different things."""
    config = {"services": {"api": {"image": "x", "healthcheck": healthcheck}}}
    assert parse_model(config).services["api"].healthcheck == source


def test_parse_model_of_empty_output_has_no_services() -> None:
    """An empty document is a model without services, not an error."""
    assert parse_model({}).services == {}


def test_parse_model_reads_real_compose_output(tmp_path: Path) -> None:
    """The parser understands what the Compose CLI really prints for short syntaxes."""
    compose = shutil.which("docker-compose") or str(Path(sys.executable).parent / "docker-compose")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "compose.yml").write_text(
        "services:\n"
        "  db: {image: postgres:15}\n"
        "  api:\n"
        "    build: .\n"
        "    ports: ['127.0.0.1:8000:8000', '9000']\n"
        "    depends_on: [db]\n"
        "    environment: [DATABASE_URL=postgresql://db/app]\n"
        "    healthcheck:\n"
        "      test: [CMD, 'true']\n"
        "      interval: 90s\n"
        "      start_period: 20s\n"
        "      start_interval: 500ms\n"
        "  off: {image: x, healthcheck: {disable: true}}\n"
        "  none: {image: x, healthcheck: {test: [NONE]}}\n"
        "  timed: {image: x, healthcheck: {interval: 2s}}\n"
    )
    printed = subprocess.run(
        [
            compose,
            "--project-directory",
            str(tmp_path),
            "--project-name",
            "m",
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    model = parse_model(json.loads(printed))
    api = model.services["api"]
    assert (api.builds, api.depends_on) == (True, ("db",))
    assert api.environment == {"DATABASE_URL": "postgresql://db/app"}
    assert [port.published for port in api.ports] == ["8000", None]
    # Go durations as Compose normalises them: what first_check_seconds reads.
    timing = (api.health_interval, api.health_start_period, api.health_start_interval)
    assert timing == ("1m30s", "20s", "500ms")
    # Where the healthcheck Docker runs comes from, as Compose prints each spelling.
    sources = {name: service.healthcheck for name, service in model.services.items()}
    assert sources == {
        "api": "compose",
        "db": "image",
        "off": "disabled",
        "none": "disabled",
        "timed": "image",
    }
