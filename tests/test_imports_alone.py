"""Every module of deployhook imports first, on its own: no import cycle that only works when
some other module happened to be imported before it (a CLI verb, a worker or a single test
module may well import it first)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "jobs", "webhook")

# One interpreter for all: before each module, every deployhook module is forgotten, so each
# import starts from nothing of ours (third-party modules stay loaded, which keeps it fast).
# `config` imports nothing of jobs or webhook (else nothing is kept), so it can take part in no
# cycle with them: once each of its modules has imported first on its own, it stays loaded for
# the rest, as third-party modules do. Importing it afresh for each of theirs would run the
# same code to the same end, and cost half the probe's time (its pydantic models built anew).
PROBE = """
import importlib, sys
packages, kept_package = {packages!r}, "config"
failed = []

def ours(name):
    return name.split(".")[0] in packages

def probe(name, kept):
    for loaded in [m for m in sys.modules if ours(m) and m not in kept]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{{name}}: {{type(error).__name__}}: {{error}}")

names = sys.argv[1:]
for name in [n for n in names if n.split(".")[0] == kept_package]:
    probe(name, set())
for loaded in [m for m in sys.modules if ours(m)]:
    del sys.modules[loaded]
try:
    for name in [n for n in names if n.split(".")[0] == kept_package]:
        importlib.import_module(name)
    kept = {{m for m in sys.modules if ours(m)}}
except Exception as error:
    failed.append(f"{{kept_package}} as a whole: {{type(error).__name__}}: {{error}}")
    kept = set()
if any(m.split(".")[0] != kept_package for m in kept):
    kept = set()  # it imports jobs or webhook now: it may be in a cycle, so nothing is kept
for name in [n for n in names if n.split(".")[0] != kept_package]:
    probe(name, kept)
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "." in path.stem:  # gunicorn.conf.py: a file gunicorn reads, not a module
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_first_on_its_own(tmp_path: Path) -> None:
    """Each module of config, jobs and webhook imports in an interpreter where none of ours
    was imported before it."""
    modules = _modules()
    assert len(modules) > 100, modules
    # Bytecode cached in a directory of the test's own: the same module is compiled once,
    # not once per import (PYTHONDONTWRITEBYTECODE is set on this machine).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(packages=set(PACKAGES)), *modules],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stdout + probe.stderr[-2000:]
