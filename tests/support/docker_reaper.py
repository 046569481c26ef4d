"""Cleaning up after private Docker engines: this session's, and those of crashed sessions.

A test session killed outright (SIGKILL, a closed terminal) never runs its teardown, so its
dockerd, containers and mounts would stay forever on a shared machine. Each engine directory
records the pid of the session that owns it; the next session to start an engine stops every
engine whose owner is gone. Engines of live sessions are never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

from tests.support.commands import run, unmount_below

PARENT = Path("/tmp")  # short: unix socket paths are limited to about 107 bytes
PREFIX = "dhtest-"
OWNER_FILE = "owner.pid"


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, finished but not yet reaped, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_containers(env: Mapping[str, str]) -> None:
    """Kill the running containers of the engine `env` points at (volumes are left alone)."""
    running = run(["docker", "ps", "-q"], env=env, check=False, timeout=30)
    ids = running.stdout.split()
    if ids:
        run(["docker", "kill", *ids], env=env, check=False, timeout=60)


def release(directory: Path) -> None:
    """Kill what still names `directory` (containerd, shims, their children), unmount, remove."""
    for pid in _processes_below(directory):
        with suppress(ProcessLookupError):  # it may have ended on its own meanwhile
            os.kill(pid, signal.SIGKILL)
    unmount_below(directory)
    shutil.rmtree(directory, ignore_errors=True)


def reap_orphans() -> None:
    """Stop and remove every engine directory whose owning session no longer runs."""
    for directory in PARENT.glob(f"{PREFIX}*"):
        try:
            owner = int((directory / OWNER_FILE).read_text())
            dockerd = int((directory / "docker.pid").read_text())
        except (OSError, ValueError):  # not an engine directory, or one still starting
            continue
        if alive(owner):
            continue
        if alive(dockerd):
            env = {**os.environ, "DOCKER_HOST": f"unix://{directory}/docker.sock"}
            kill_containers(env)
            with suppress(ProcessLookupError):
                os.kill(dockerd, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while alive(dockerd) and time.monotonic() < deadline:
                time.sleep(0.2)
        release(directory)


def _processes_below(directory: Path) -> list[int]:
    """Processes whose command line names `directory`, and every descendant of them."""
    parents: dict[int, int] = {}
    naming: set[int] = set()
    marker = f"{directory}/".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if marker in cmdline:
            naming.add(int(entry.name))
    found = set(naming)
    while True:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        if not children:
            break
        found |= children
    found.discard(os.getpid())
    return sorted(found)
