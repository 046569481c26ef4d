"""The Compose model read straight from a checkout's files, for `check-config` (no command runs).

A deploy reads the model from `compose config`; check-config must work without Docker, so it
merges the files itself, interpolates `${VAR}` / `${VAR:-default}` from the checkout's `.env`,
normalises the two short syntaxes writers depend on (`depends_on` and `environment` lists), and
leaves out services whose profiles `.env`'s COMPOSE_PROFILES does not activate.
Close enough to show which services the revert would stop; the deploy uses Compose's own view.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from jobs.compose.model import ComposeModel, parse_model

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def model_from_files(directory: Path, files: list[str]) -> ComposeModel:
    """Merge the compose files (later ones override per service) into a model."""
    variables = _dotenv(directory / ".env")
    active = {name.strip() for name in variables.get("COMPOSE_PROFILES", "").split(",")}
    services: dict[str, dict[str, Any]] = {}
    for name in files:
        text = (directory / name).read_text()
        text = _VARIABLE.sub(lambda m: variables.get(m[1], m[2] or ""), text)
        loaded = yaml.safe_load(text) or {}
        for service, spec in (loaded.get("services") or {}).items():
            if isinstance(spec, dict):
                services.setdefault(service, {}).update(_normalised(spec))
    return parse_model(
        {
            "services": {
                name: spec
                for name, spec in services.items()
                if not spec.get("profiles") or active & set(spec["profiles"])
            }
        }
    )


def _normalised(spec: dict[str, Any]) -> dict[str, Any]:
    spec = dict(spec)
    if isinstance(spec.get("depends_on"), list):
        spec["depends_on"] = {str(name): {} for name in spec["depends_on"]}
    if isinstance(spec.get("environment"), list):
        pairs = [str(item).split("=", 1) for item in spec["environment"]]
        spec["environment"] = {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
    spec.pop("ports", None)  # short port syntax is not parsed here; writers do not need it
    return spec


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("'\"")
    return values
