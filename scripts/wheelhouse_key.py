"""What decides the test venv's wheels, for scripts/venv's wheelhouse (stdlib only).

    python scripts/wheelhouse_key.py key             # 12 hex digits naming the house
    python scripts/wheelhouse_key.py build-requires  # pyproject.toml's build requirements
    python scripts/wheelhouse_key.py uv              # the uv the house installs with

The key covers every input of pip's resolution that a checkout changes: the build system, the
requirements and extras, requires-python, and the interpreter (its version and platform, the
wheels' tags); and the uv that unpacks the wheels (its cache's layout is its own). Tool
settings elsewhere in pyproject.toml leave the house as it is.
"""

from __future__ import annotations

import hashlib
import json
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
# Exact, so every house unpacks and installs the same way until this line changes (a new uv
# names a new house, with a cache of its own layout); moved by hand, after a run with it.
UV = "uv==0.13.9"


def resolution_inputs(pyproject: dict[str, Any]) -> list[Any]:
    """The parts of pyproject.toml and of this interpreter that pip's resolution reads."""
    project = pyproject.get("project", {})
    return [
        pyproject.get("build-system"),
        project.get("dependencies"),
        project.get("optional-dependencies"),
        project.get("requires-python"),
        sys.version,
        sysconfig.get_platform(),
    ]


def key(pyproject: dict[str, Any]) -> str:
    """A short, stable name for one set of resolution inputs and the uv that installs them."""
    text = json.dumps([*resolution_inputs(pyproject), UV], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def main(argv: list[str]) -> int:
    pyproject = tomllib.loads(PYPROJECT.read_text())
    if argv == ["key"]:
        print(key(pyproject))
    elif argv == ["build-requires"]:
        print("\n".join(pyproject["build-system"]["requires"]))
    elif argv == ["uv"]:
        print(UV)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
