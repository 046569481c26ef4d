"""scripts/wheelhouse_key.py names scripts/venv's wheelhouse after what decides its wheels."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "wheelhouse_key.py"
_spec = importlib.util.spec_from_file_location("wheelhouse_key", SCRIPT)
assert _spec and _spec.loader
wheelhouse_key = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wheelhouse_key)

BASE = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "deployhook"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["flask>=3.0,<4", "rq>=2.0,<4"]

[project.optional-dependencies]
test = ["pytest>=8", "ruff>=0.5"]

[tool.ruff]
line-length = 100
"""


def _key(text: str) -> str:
    return str(wheelhouse_key.key(tomllib.loads(text)))


@pytest.mark.parametrize(
    ("change", "old", "new", "same"),
    [
        ("a requirement's range", '"rq>=2.0,<4"', '"rq>=2.1,<4"', False),
        ("a new requirement", '"rq>=2.0,<4"]', '"rq>=2.0,<4", "redis>=5"]', False),
        ("a test extra", '"pytest>=8"', '"pytest>=9"', False),
        ("the build system", '"setuptools>=68"', '"setuptools>=70"', False),
        ("requires-python", '">=3.11"', '">=3.12"', False),
        ("a tool setting", "line-length = 100", "line-length = 110", True),
        ("the version", 'version = "0.1.0"', 'version = "0.2.0"', True),
    ],
)
def test_the_key_follows_the_resolutions_inputs_only(
    change: str, old: str, new: str, same: bool
) -> None:
    """A change pip's resolution reads names another house; a tool setting keeps the house."""
    assert old in BASE
    assert (_key(BASE) == _key(BASE.replace(old, new))) is same, change


def test_the_key_names_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another Python version (other wheel tags) names another house."""
    before = _key(BASE)
    monkeypatch.setattr(wheelhouse_key.sys, "version", "3.12.1 (main) [GCC 12.2.0]")
    assert _key(BASE) != before


def test_the_script_prints_the_key_and_the_build_requirements() -> None:
    """What scripts/venv reads: 12 hex digits, then the checkout's own build requirements."""
    run = [sys.executable, str(SCRIPT)]
    key = subprocess.run([*run, "key"], capture_output=True, text=True, check=True).stdout
    assert len(key.strip()) == 12 and int(key, 16) >= 0
    needs = subprocess.run([*run, "build-requires"], capture_output=True, text=True, check=True)
    pyproject = tomllib.loads((SCRIPT.parents[1] / "pyproject.toml").read_text())
    assert needs.stdout.split() == pyproject["build-system"]["requires"]


def test_the_key_names_the_pinned_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    """uv is pinned to one exact version, the one scripts/venv installs into the house, and
    another pin names another house."""
    pin = subprocess.run([sys.executable, str(SCRIPT), "uv"], capture_output=True, text=True)
    assert pin.stdout.strip() == wheelhouse_key.UV
    assert re.fullmatch(r"uv==\d+\.\d+\.\d+", wheelhouse_key.UV)
    venv = (SCRIPT.parent / "venv").read_text()
    assert '"$(.venv/bin/python scripts/wheelhouse_key.py uv)"' in venv
    before = _key(BASE)
    monkeypatch.setattr(wheelhouse_key, "UV", "uv==0.13.8")
    assert _key(BASE) != before
