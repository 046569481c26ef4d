"""deployhook's own container image, built from the repository's Dockerfile in the test bed.

No registry is reachable, so the image is built FROM the test bed's Debian base. The two slow,
networked parts are done once per machine and cached beside the base image: the base plus the
Debian packages the Dockerfile wants (its APT_PACKAGES), saved as a tarball, and a wheelhouse of
deployhook's Python dependencies. The build then runs the Dockerfile's own apt-get, which finds
every package installed and its lists current, and installs deployhook offline.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.commands import run
from tests.support.docker_engine import Engine
from tests.support.images import cache_dir, image_exists, locked

__all__ = ["REPO", "Engine", "build_image", "run"]  # what the image tests need from the bed

REPO = Path(__file__).resolve().parent.parent.parent
# Besides deployhook's own dependencies: setuptools builds deployhook from source offline, and
# redis needs async-timeout below Python 3.11.3 (Debian bookworm has 3.11.2), a marker pip
# evaluates against this interpreter rather than the image's.
EXTRA_WHEELS = ("setuptools>=68", "async-timeout>=4.0.3")


def _key(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()[:12]


def dockerfile_packages() -> tuple[str, ...]:
    """The Debian packages the Dockerfile installs: its APT_PACKAGES default."""
    found = re.search(r'^ARG APT_PACKAGES="([^"]*)"$', (REPO / "Dockerfile").read_text(), re.M)
    assert found, 'expected a line `ARG APT_PACKAGES="..."` in the Dockerfile'
    return tuple(found.group(1).split())


def tools_image(base: str, env: Mapping[str, str]) -> str:
    """`base` plus the Dockerfile's packages and apt's lists (so its own `apt-get update` and
    `install` find them there, not ten seconds of downloads), loaded from the cache or built
    (with apt) and cached."""
    packages = sorted(dockerfile_packages())
    key = _key(base, *packages)
    name = f"deployhook-test-tools:{key}"
    if image_exists(name, env):
        return name
    tarball = cache_dir() / f"tools-{key}.tar"
    with locked(cache_dir() / f"tools-{key}.lock"):
        if not tarball.exists():
            context = cache_dir() / f"tools-{key}.context"
            context.mkdir(parents=True, exist_ok=True)
            (context / "Dockerfile").write_text(
                f"FROM {base}\nRUN apt-get update && apt-get install -y --no-install-recommends"
                f" {' '.join(packages)}\n"
            )
            run(["docker", "build", "--network", "host", "-t", name, str(context)],
                env=env, timeout=1200)  # fmt: skip
            partial = tarball.with_suffix(".partial")
            run(["docker", "save", "-o", str(partial), name], env=env, timeout=600)
            partial.rename(tarball)
    if not image_exists(name, env):
        run(["docker", "load", "-i", str(tarball)], env=env, timeout=600)
    return name


def wheelhouse() -> Path:
    """Wheels for every dependency in pyproject.toml, plus EXTRA_WHEELS."""
    key = _key((REPO / "pyproject.toml").read_bytes(), sys.version, *EXTRA_WHEELS)
    wheels = cache_dir() / f"wheels-{key}"
    with locked(cache_dir() / f"wheels-{key}.lock"):
        if not wheels.exists():
            partial = wheels.with_suffix(".partial")
            shutil.rmtree(partial, ignore_errors=True)
            pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(partial)]
            run([*pip, *EXTRA_WHEELS, str(REPO)], timeout=1200)
            for own in partial.glob("deployhook-*.whl"):
                own.unlink()  # the image installs the checkout itself, never a stale wheel
            partial.rename(wheels)
    return wheels


def build_context(destination: Path) -> Path:
    """The checkout's files as git sees them (tracked and new, not ignored), plus the wheels."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for relative in filter(None, listed):
        source = REPO / relative
        if source.is_file():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    shutil.copytree(wheelhouse(), destination / "wheels")
    return destination


def build_image(base: str, env: Mapping[str, str], workdir: Path) -> str:
    """Build the repository's Dockerfile FROM the tools image, offline; return the image name."""
    name = "deployhook-test-image:latest"
    context = build_context(workdir / "context")
    run(
        [
            "docker", "build", "--network", "host", "-t", name,
            "--build-arg", f"BASE_IMAGE={tools_image(base, env)}",
            "--build-arg", "PIP_INSTALL_ARGS=--no-index --find-links /src/wheels",
            str(context),
        ],
        env=env,
        timeout=1200,
    )  # fmt: skip
    return name
