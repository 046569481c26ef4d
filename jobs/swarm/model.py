"""What a stack's Compose files say about Swarm: update settings, ports, configs and secrets.

Read from the same `compose config --format json` that jobs/compose/model.py reads (Compose
merges the files and resolves a config's `file:` to an absolute path); `parse_stack` is pure
and table-tested. The Compose file's `version:`, which `compose config` drops, is read from the
first file, because `docker stack deploy` refuses files whose versions differ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobs.commands.compose import Compose
from jobs.compose.model import healthcheck_source, read_config
from jobs.execution.runner import Runner, read_only_output

# Mount types that keep no data of their own on the node: everything else is a named one.
NOT_NAMED = ("bind", "tmpfs", "npipe", "image")


@dataclass(frozen=True)
class StackService:
    name: str
    image: str | None
    builds: bool
    has_healthcheck: bool
    mode: str  # replicated, global, replicated-job, global-job
    update_order: str  # Swarm's default is stop-first
    failure_action: str  # Swarm's default is pause
    host_ports: tuple[int, ...] = ()  # published in `mode: host`
    constraints: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()  # named volumes it mounts
    networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackFile:
    """A config or secret from a file: its key in the Compose file and the file's path."""

    key: str
    path: Path
    name: str | None = None  # a `name:` the user gave


@dataclass(frozen=True)
class Stack:
    services: dict[str, StackService]
    configs: tuple[StackFile, ...] = ()
    secrets: tuple[StackFile, ...] = ()
    networks: dict[str, str] = field(default_factory=dict)  # key -> its name in the engine

    def service(self, name: str) -> StackService | None:
        return self.services.get(name)


def parse_stack(config: dict[str, Any]) -> Stack:
    services = {
        name: _service(name, spec)
        for name, spec in (config.get("services") or {}).items()
        if isinstance(spec, dict)
    }
    networks = {
        str(key): str((spec or {}).get("name") or key)
        for key, spec in (config.get("networks") or {}).items()
    }
    project = str(config.get("name") or "")
    configs, secrets = (_files(config.get(key), project) for key in ("configs", "secrets"))
    return Stack(services, configs, secrets, networks)


def _service(name: str, spec: dict[str, Any]) -> StackService:
    deploy = spec.get("deploy") or {}
    update = deploy.get("update_config") or {}
    placement = deploy.get("placement") or {}
    return StackService(
        name=name,
        image=spec.get("image"),
        builds=bool(spec.get("build")),
        # Only a Compose one counts: the image's is not read on a swarm (jobs/swarm/policy.py).
        has_healthcheck=healthcheck_source(spec.get("healthcheck") or {}) == "compose",
        mode=str(deploy.get("mode") or "replicated"),
        update_order=str(update.get("order") or "stop-first"),
        failure_action=str(update.get("failure_action") or "pause"),
        host_ports=tuple(
            int(port["published"])
            for port in spec.get("ports") or []
            if isinstance(port, dict) and port.get("mode") == "host" and port.get("published")
        ),
        constraints=tuple(str(item) for item in placement.get("constraints") or []),
        volumes=tuple(
            str(item["source"])
            for item in spec.get("volumes") or []
            if isinstance(item, dict) and item.get("source") and item.get("type") not in NOT_NAMED
        ),
        networks=tuple(sorted(spec.get("networks") or {})),
    )


def _files(section: object, project: str) -> tuple[StackFile, ...]:
    """Configs or secrets read from a file; `name` only when the user set one (Compose prints
    `<project>_<key>` for the others)."""
    found = []
    for key, spec in (section or {}).items() if isinstance(section, dict) else []:
        if isinstance(spec, dict) and spec.get("file") and not spec.get("external"):
            name = spec.get("name")
            given = None if name in (None, f"{project}_{key}") else str(name)
            found.append(StackFile(str(key), Path(str(spec["file"])), given))
    return tuple(found)


def read_stack(runner: Runner, compose: Compose, timeout: float = 120) -> Stack:
    """Run `compose config --format json` (it changes nothing) and parse the swarm parts."""
    return parse_stack(read_config(runner, compose, timeout))


def read_stack_offline(compose: Compose, environ: Mapping[str, str], timeout: float = 60) -> Stack:
    """The same outside a deploy (`check-config`): `compose config` needs no daemon."""
    text = read_only_output(compose.config_json(), timeout=timeout, environ=environ)
    return parse_stack(json.loads(text or "{}"))


def file_version(path: Path) -> str | None:
    """The `version:` of a Compose file, as `docker stack deploy` compares them, or None."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    version = document.get("version") if isinstance(document, dict) else None
    return str(version) if version is not None else None
