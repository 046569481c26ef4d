"""A private Docker engine per test session: its own data root, exec root and socket.

Several sessions may run on one machine at once, so nothing here is shared: the socket,
containerd's state and every volume live in one short temporary directory (unix socket paths
are limited to about 107 bytes), which goes away, volumes included, when the engine stops.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.commands import BedError, run, tail
from tests.support.docker_reaper import (
    OWNER_FILE,
    PARENT,
    PREFIX,
    kill_containers,
    reap_orphans,
    release,
)

READY_SECONDS = 60
# Inherited from whoever runs the tests, these would point compose at some other project.
FOREIGN_VARIABLES = ("COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES", "DOCKER_CONTEXT")


@dataclass(frozen=True)
class Engine:
    directory: Path
    host: str  # the DOCKER_HOST value, unix://<directory>/docker.sock
    env: dict[str, str] = field(repr=False)  # os.environ plus DOCKER_HOST and the venv's bin


def socket_url(directory: Path) -> str:
    return f"unix://{directory}/docker.sock"


def tool_path() -> str:
    """PATH with this interpreter's bin first, so `docker-compose` from the venv is found."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def engine_env(directory: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
    env.update(DOCKER_HOST=socket_url(directory), PATH=tool_path())
    env["DOCKER_CONFIG"] = str(directory / "config")
    return env


@contextmanager
def running_engine() -> Iterator[Engine]:
    """Start dockerd in a fresh temporary directory; yield it ready; stop it and remove all."""
    if os.geteuid() != 0:
        raise BedError("the private Docker engine needs root: run the docker tests as root")
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise BedError("expected dockerd on PATH, got none; apt-get install docker.io")
    reap_orphans()
    directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=PARENT))
    (directory / OWNER_FILE).write_text(str(os.getpid()))
    host = socket_url(directory)
    log = directory / "dockerd.log"
    argv = [
        dockerd, "--iptables=false", "--bridge=none",
        "--data-root", str(directory / "data"), "--exec-root", str(directory / "exec"),
        "-H", host, "--pidfile", str(directory / "docker.pid"),
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    engine = Engine(directory, host, engine_env(directory))
    try:
        _wait_until_ready(engine, process, log)
        yield engine
    finally:
        _stop(engine, process)


def _wait_until_ready(engine: Engine, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BedError(
                f"dockerd exited with {process.returncode} while starting; log tail:\n"
                f"{tail(log.read_text(errors='replace'))}"
            )
        if run(["docker", "info"], env=engine.env, check=False, timeout=10).returncode == 0:
            return
        time.sleep(0.2)
    raise BedError(
        f"dockerd did not answer `docker info` within {READY_SECONDS} s; log tail:\n"
        f"{tail(log.read_text(errors='replace'))}"
    )


def _stop(engine: Engine, process: subprocess.Popen[bytes]) -> None:
    """Kill containers, stop dockerd, then anything still holding on to the directory."""
    if process.poll() is None:
        kill_containers(engine.env)
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    release(engine.directory)
