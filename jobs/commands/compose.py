"""argv for Docker Compose, with the plugin (`docker compose`) or the standalone binary.

Deliberately absent: `down`, `rm -v`, `volume`, `prune` of any kind. Named volumes hold the
users' data and no deploy path may touch them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from config.model import Environment

SERVICE_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$"


def detect_compose(preference: str) -> list[str]:
    """The compose argv prefix: configured, else the plugin if it answers, else docker-compose."""
    if preference == "docker compose":
        return ["docker", "compose"]
    standalone = _standalone_binary()
    if preference == "docker-compose":
        return [standalone or "docker-compose"]
    if shutil.which("docker") and _answers(["docker", "compose", "version"]):
        return ["docker", "compose"]
    if standalone:
        return [standalone]
    return ["docker", "compose"]  # fails later with a clear "command not found"


def _standalone_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "docker-compose"
    return shutil.which("docker-compose") or (
        str(beside_python) if beside_python.exists() else None
    )


def _answers(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass(frozen=True)
class Compose:
    """Compose commands for one environment's checkout and project name."""

    prefix: tuple[str, ...]
    project: str
    directory: Path
    files: tuple[str, ...]
    profiles: tuple[str, ...] = ()

    @classmethod
    def for_environment(cls, environment: Environment, prefix: list[str]) -> Compose:
        return cls(
            tuple(prefix),
            environment.compose.project,
            environment.path,
            tuple(environment.compose.files),
            tuple(environment.compose.profiles),
        )

    def _base(self) -> list[str]:
        argv = [*self.prefix, "--project-name", self.project]
        argv += ["--project-directory", str(self.directory)]
        for file in self.files:
            argv += ["--file", str(self.directory / file)]
        for profile in self.profiles:
            argv += ["--profile", profile]
        return argv

    def build(self, services: list[str] | None = None) -> list[str]:
        return [*self._base(), "build", *(services or [])]

    def pull(self, services: list[str]) -> list[str]:
        # --quiet: progress bars would flood the deploy log; failures still print.
        return [*self._base(), "pull", "--quiet", *services]

    def up(
        self,
        services: list[str] | None = None,
        *,
        remove_orphans: bool = False,
        no_deps: bool = False,
    ) -> list[str]:
        """`no_deps`: touch only `services`, and wait for none of their dependencies."""
        # --no-build: images are built (or retagged for a revert) before this, never here.
        argv = [*self._base(), "up", "--detach", "--no-build"]
        if remove_orphans:
            argv.append("--remove-orphans")
        if no_deps:
            argv.append("--no-deps")
        return argv + list(services or [])

    def create_beside(self, service: str, count: int) -> list[str]:
        """Create (not start) new containers of `service` beside the running ones, up to `count`.

        --no-recreate keeps the running containers whatever changed; the new ones get the
        service's current image and config. --no-start: the swap takes each new one out of the
        service's DNS name before it starts, so no proxy reaches it until Docker calls it healthy.
        """
        return [
            *self._base(), "up", "--no-build", "--no-deps", "--no-recreate", "--no-start",
            "--scale", f"{service}={count}", service,
        ]  # fmt: skip

    def stop(self, services: list[str], *, timeout: int | None = None) -> list[str]:
        """`timeout`: seconds between SIGTERM and SIGKILL (default: each service's own)."""
        wait = ["--timeout", str(timeout)] if timeout is not None else []
        return [*self._base(), "stop", *wait, *services]

    def exec(self, service: str, command: list[str], env: Sequence[str] = ()) -> list[str]:
        """`env`: `-e NAME=VALUE` flags (jobs/commands/environ.py:env_flags)."""
        return [*self._base(), "exec", "-T", *env, service, *command]

    def run(self, service: str, command: list[str], env: Sequence[str] = ()) -> list[str]:
        """A one-off container of `service` beside the running ones, removed when it ends."""
        return [*self._base(), "run", "--rm", "--no-deps", "-T", *env, service, *command]

    def config_json(self) -> list[str]:
        return [*self._base(), "config", "--format", "json"]
