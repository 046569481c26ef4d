"""Read, resolve and validate the YAML configuration, reporting every problem at once.

Resolution happens before validation: `${NAME}` string values come from the environment and a
key `X_file` is replaced by `X` holding the file's contents. Errors carry the key path and what
to write instead. The only value an error echoes is a plain name that failed its pattern (a
branch, a service, a docker_host): secrets are never pattern-checked, so they cannot leak.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config.model import Settings

CONFIG_ENV = "DEPLOYHOOK_CONFIG"
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Environment variables that fill keys the file leaves out (used by `deployhook up`).
_ENV_DEFAULTS = {("redis", "url"): "DEPLOYHOOK_REDIS_URL", ("state_dir",): "DEPLOYHOOK_STATE_DIR"}
# Keys whose value must come from the environment or a file, never the configuration itself.
_NEVER_LITERAL: dict[tuple[str, ...], str] = {
    ("offsite", "password"): "use password_file: /path or password: ${RESTIC_PASSWORD}"
}
# Stands in for an unresolvable value so that validation reports only the real problem.
# Stands in for a value that could not be read, so that validation goes on to find the rest
# (long enough to pass a secret's minimum length: its problem is already reported).
_UNRESOLVED = "unresolved: see the problem reported for this key"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists each as `path: what is wrong`."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration\n{listing}")


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    chosen = explicit or os.environ.get(CONFIG_ENV)
    if not chosen:
        raise ConfigError(
            "configuration", [f"no configuration file: pass --config FILE or set {CONFIG_ENV}"]
        )
    return Path(chosen)


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    source = config_path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(source), [f"cannot read the file: {error.strerror}"]) from None
    return parse_settings(text, str(source), os.environ if environ is None else environ)


def parse_settings(text: str, source: str, environ: Mapping[str, str]) -> Settings:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ConfigError(source, [f"{where}{problem}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, ["the top level must be a mapping with a `projects` key"])
    problems: list[str] = []
    resolved = _resolve(raw, (), environ, problems)
    for key_path, variable in _ENV_DEFAULTS.items():
        _set_default(resolved, key_path, environ.get(variable))
    try:
        settings = Settings.model_validate(resolved)
    except ValidationError as error:
        problems.extend(_describe(item) for item in error.errors() if not _is_union_noise(item))
        settings = None
    if problems or settings is None:
        raise ConfigError(source, problems)
    return settings


def _resolve(
    node: Any, path: tuple[str, ...], environ: Mapping[str, str], problems: list[str]
) -> Any:
    if isinstance(node, dict):
        result: dict[Any, Any] = {}
        for key, value in node.items():
            key_text = str(key)
            if key_text.endswith("_file") and isinstance(value, str):
                target = key_text.removesuffix("_file")
                if target in node:
                    problems.append(
                        f"{_join(*path, key_text)}: give {target} or {key_text}, not both"
                    )
                result[target] = _read_secret_file(value, _join(*path, key_text), problems)
            else:
                result[key] = _resolve(value, (*path, key_text), environ, problems)
        return result
    if isinstance(node, list):
        return [
            _resolve(item, (*path, str(index)), environ, problems)
            for index, item in enumerate(node)
        ]
    if isinstance(node, str):
        reference = _ENV_REFERENCE.fullmatch(node)
        if not reference and path[-2:] in _NEVER_LITERAL:
            problems.append(
                f"{_join(*path)}: never written in the configuration; {_NEVER_LITERAL[path[-2:]]}"
            )
            return _UNRESOLVED
        if reference:
            name = reference.group(1)
            if not environ.get(name):
                problems.append(f"{_join(*path)}: environment variable {name} is not set or empty")
                return _UNRESOLVED
            return environ[name]
    return node


def _read_secret_file(file_name: str, where: str, problems: list[str]) -> str:
    try:
        content = Path(file_name).read_text(encoding="utf-8").strip()
    except OSError as error:
        problems.append(f"{where}: cannot read {file_name}: {error.strerror}")
        return _UNRESOLVED
    if not content:
        problems.append(f"{where}: {file_name} is empty")
        return _UNRESOLVED
    return content


def _set_default(tree: dict[Any, Any], key_path: tuple[str, ...], value: str | None) -> None:
    if not value:
        return
    node = tree
    for key in key_path[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            return
        node = child
    node.setdefault(key_path[-1], value)


def _is_union_noise(item: Any) -> bool:
    """A Secret is also accepted as an instance; that branch's complaint only confuses."""
    return any(str(part).startswith("is-instance[") for part in item["loc"])


def _join(*parts: str) -> str:
    return ".".join(parts) or "(top level)"


_PATTERN_HINTS = {
    "[key]": "names are lower-case letters, digits, - and _, at most 63 characters",
    "repo": "expected host/owner/name, e.g. github.com/acme/crm",
    "url": "expected an http:// or https:// URL",
    "api_url": "expected an http:// or https:// URL",
    "public_url": "expected an http:// or https:// URL",
    "docker_host": (
        "expected unix:///path/to/docker.sock, ssh://user@host[:port] or tcp://host:port"
    ),
    "profiles": "expected a Compose profile name: letters, digits, _, . and -",
    "sentinels": "expected host:port, e.g. 10.0.0.1:26379 or [fd00::1]:26379",
    "master": "expected the master's name as the sentinels know it: letters, digits, _ . -",
}


# pydantic's wording for YAML's shapes, as someone editing a YAML file would say it.
_PLAIN_WORDS = {
    "dict_type": "expected a mapping (indented `key: value` lines)",
    "model_type": "expected a mapping (indented `key: value` lines)",
    "list_type": "expected a list (`[a, b]` or lines starting with `- `)",
    "string_type": "expected text (quote it if YAML reads it as a number or true/false)",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "url_parsing": "expected an http:// or https:// URL",
    "url_scheme": "expected an http:// or https:// URL",
}


def _describe(item: Any) -> str:
    location = [str(part) for part in item["loc"] if not str(part).startswith("function-")]
    kind = item["type"]
    if kind == "extra_forbidden":
        message = "unknown key (check its spelling against the README's configuration reference)"
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "string_pattern_mismatch" and location:
        # A list item's hint is its list's: profiles.1 -> profiles.
        key = next((part for part in reversed(location) if not part.isdigit()), "")
        message = _PATTERN_HINTS.get(key, "names are lower-case letters, digits, - and _")
        if location[-1] != "[key]" and isinstance(item.get("input"), str):
            message += f"; got {item['input'][:100]!r}"
    elif kind in _PLAIN_WORDS:
        message = _PLAIN_WORDS[kind]
    else:
        message = str(item["msg"]).removeprefix("Value error, ")
    if location and location[-1] == "[key]":
        location.pop()
    # A rule across several keys names the key it is about at the start of its message.
    inner = _INNER_PATH.match(message)
    if inner:
        location, message = [*location, *inner["path"].split(".")], inner["rest"]
    return f"{_join(*location)}: {message}"


_INNER_PATH = re.compile(r"^(?P<path>(projects|environments)\.[\w.-]+): (?P<rest>.*)$", re.S)
