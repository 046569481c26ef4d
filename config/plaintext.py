"""Secrets written into the configuration file itself: allowed, but `check-config` warns.

A secret belongs in the environment (`${NAME}`) or in a file of its own (`<key>_file:`), so
that the configuration can be read, shared and versioned without leaking it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_SECRET_KEYS = frozenset(
    {"secret", "signing_key", "token", "webhook_url", "password", "sentinel_password"}
)
_ENV_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_PASSWORD_IN_URL = re.compile(r"//[^/@]*:[^/@]+@")


def plain_text_secrets(path: Path) -> list[str]:
    """One warning per secret written in `path` as plain text; none if it cannot be read."""
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return []  # loading the settings has reported it already
    found: list[str] = []
    _walk(tree, (), found)
    return [
        f"{where}: a secret written in the configuration file in plain text; use "
        f"${{ENV_VARIABLE}} or {where.rsplit('.', 1)[-1]}_file: /path/to/file instead"
        for where in found
    ]


def _walk(node: Any, path: tuple[str, ...], found: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _walk(value, (*path, str(key)), found)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _walk(item, (*path, str(index)), found)
    elif isinstance(node, str) and not _ENV_REFERENCE.fullmatch(node) and _is_secret(path, node):
        found.append(".".join(path))


def _is_secret(path: tuple[str, ...], value: str) -> bool:
    if path and path[-1] in _SECRET_KEYS:
        return True
    if path[:2] == ("notify", "apprise") or path == ("notify", "webhook", "url"):
        return True
    return path == ("redis", "url") and bool(_PASSWORD_IN_URL.search(value))
