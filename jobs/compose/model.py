"""The effective Compose model of an environment, as `compose config --format json` prints it.

Compose itself merges the files, interpolates `.env`, applies profiles and normalises the short
syntaxes (`ports: ["8000"]`, `depends_on: [db]`), so reading its JSON output is the one reliable
way to know what a service really is. `parse_model` is pure (table-tested); `read_model` runs
the command through the deploy's runner.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jobs.commands.compose import Compose
from jobs.execution.runner import Runner, read_only_output


@dataclass(frozen=True)
class PublishedPort:
    target: int
    published: str | None  # None: Compose picks an ephemeral host port
    host_ip: str | None


@dataclass(frozen=True)
class ServiceMount:
    """One entry of a service's `volumes` (long syntax, as Compose normalises it)."""

    type: str  # as Compose prints it: bind, tmpfs, a named or anonymous one, ...
    target: str
    source: str | None = None
    read_only: bool = False


# Where a service's healthcheck comes from: its Compose `healthcheck:` (a `test`), "disabled"
# (`disable: true` or `test: [NONE]`: none at all, the image's switched off too), or "image":
# no test in the Compose files, so Docker runs the image's HEALTHCHECK, if it has one.
HealthcheckSource = Literal["compose", "disabled", "image"]


@dataclass(frozen=True)
class ServiceModel:
    name: str
    image: str | None
    builds: bool
    container_name: str | None = None
    network_mode: str | None = None
    ports: tuple[PublishedPort, ...] = ()
    healthcheck: HealthcheckSource = "image"
    # The healthcheck's timing as Compose prints it (Go durations, None when not set): when
    # Docker runs its first check after a start (zero_downtime.first_check_seconds). Docker
    # takes each one Compose leaves unset from the image's HEALTHCHECK.
    health_interval: str | None = None
    health_start_period: str | None = None
    health_start_interval: str | None = None
    depends_on: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    stop_grace_period: str | None = None
    replicas: int | None = None
    # build.context (absolute path or a git URL) and build.dockerfile, as Compose resolved them.
    build_context: str | None = None
    dockerfile: str | None = None
    # How its container runs (the migration rehearsal starts look-alikes of two services).
    command: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    user: str | None = None
    working_dir: str | None = None
    mounts: tuple[ServiceMount, ...] = ()
    tmpfs: tuple[str, ...] = ()  # container paths

    def image_name(self, project: str) -> str:
        """The image its containers run: its `image:`, else the `<project>-<name>` Compose
        builds."""
        return self.image or f"{project}-{self.name}"

    @property
    def has_healthcheck(self) -> bool:
        """The Compose files give it a healthcheck test."""
        return self.healthcheck == "compose"

    @property
    def fixed_host_ports(self) -> tuple[PublishedPort, ...]:
        """Ports bound to a fixed host port: two containers of this service cannot both run."""
        return tuple(port for port in self.ports if port.published)


@dataclass(frozen=True)
class ComposeModel:
    services: dict[str, ServiceModel]

    def service(self, name: str) -> ServiceModel | None:
        return self.services.get(name)


def parse_model(config: dict[str, Any]) -> ComposeModel:
    """Typed services from the JSON of `compose config --format json`."""
    services: dict[str, ServiceModel] = {}
    for name, spec in (config.get("services") or {}).items():
        if isinstance(spec, dict):
            services[name] = _service(name, spec)
    return ComposeModel(services)


def _service(name: str, spec: dict[str, Any]) -> ServiceModel:
    healthcheck = spec.get("healthcheck") or {}
    environment = spec.get("environment") or {}
    replicas = (spec.get("deploy") or {}).get("replicas", spec.get("scale"))
    build: dict[str, Any] = spec["build"] if isinstance(spec.get("build"), dict) else {}
    return ServiceModel(
        name=name,
        image=spec.get("image"),
        builds=bool(spec.get("build")),
        container_name=spec.get("container_name"),
        network_mode=spec.get("network_mode"),
        ports=tuple(_port(port) for port in spec.get("ports") or [] if isinstance(port, dict)),
        healthcheck=healthcheck_source(healthcheck),
        health_interval=_text(healthcheck.get("interval")),
        health_start_period=_text(healthcheck.get("start_period")),
        health_start_interval=_text(healthcheck.get("start_interval")),
        depends_on=tuple(sorted(spec.get("depends_on") or {})),
        environment={str(k): "" if v is None else str(v) for k, v in environment.items()},
        stop_grace_period=spec.get("stop_grace_period"),
        replicas=int(replicas) if replicas is not None else None,
        build_context=build.get("context"),
        dockerfile=build.get("dockerfile"),
        command=_words(spec.get("command")),
        entrypoint=_words(spec.get("entrypoint")),
        user=str(spec["user"]) if spec.get("user") else None,
        working_dir=spec.get("working_dir") or None,
        mounts=tuple(_mount(item) for item in spec.get("volumes") or [] if isinstance(item, dict)),
        tmpfs=tuple(str(item).split(":", 1)[0] for item in _list(spec.get("tmpfs"))),
    )


def healthcheck_source(healthcheck: dict[str, Any]) -> HealthcheckSource:
    """Where the healthcheck Docker runs comes from, given the service's `healthcheck:`."""
    test = healthcheck.get("test")
    if healthcheck.get("disable") or test in (["NONE"], "NONE"):
        return "disabled"
    return "compose" if test else "image"


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _words(value: object) -> tuple[str, ...]:
    """command/entrypoint: Compose prints a list; a string is split like Compose splits it."""
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(str(part) for part in _list(value))


def _list(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _mount(item: dict[str, Any]) -> ServiceMount:
    source = item.get("source")
    return ServiceMount(
        type=str(item.get("type") or ""),  # Compose always prints it
        target=str(item.get("target", "")),
        source=str(source) if source else None,
        read_only=bool(item.get("read_only")),
    )


def _port(port: dict[str, Any]) -> PublishedPort:
    published = port.get("published")
    return PublishedPort(
        target=int(port.get("target", 0)),
        published=str(published) if published not in (None, "", 0, "0") else None,
        host_ip=port.get("host_ip"),
    )


def read_model(runner: Runner, compose: Compose, timeout: float = 120) -> ComposeModel:
    """Run `compose config --format json` (it changes nothing) and parse what it prints."""
    return parse_model(read_config(runner, compose, timeout))


def read_config(runner: Runner, compose: Compose, timeout: float = 120) -> dict[str, Any]:
    """What `compose config --format json` prints, as data (read through the deploy's runner)."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "config.json"
        runner.run(
            compose.config_json(), timeout=timeout, stdout_path=out, quiet=True, read_only=True
        )
        return dict(json.loads(out.read_text() or "{}"))


def read_model_offline(
    compose: Compose, environ: Mapping[str, str], timeout: float = 60
) -> ComposeModel:
    """The same model outside a deploy (`check-config`): `compose config` needs no daemon."""
    text = read_only_output(compose.config_json(), timeout=timeout, environ=environ)
    return parse_model(json.loads(text or "{}"))
