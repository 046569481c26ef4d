"""Every module of deployhook imports first, on its own: no import cycle that only works when
some other module happened to be imported before it (a CLI verb, a worker or a single test
module may well import it first)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "jobs", "webhook")

# One interpreter for all: before each module, every deployhook module is forgotten, so each
# import starts from nothing of ours (third-party modules stay loaded, which keeps it fast).
PROBE = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in {packages!r}]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{{name}}: {{type(error).__name__}}: {{error}}")
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


def test_every_module_imports_first_on_its_own() -> None:
    modules = _modules()
    assert len(modules) > 100, modules
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(packages=set(PACKAGES)), *modules],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stdout + probe.stderr[-2000:]
