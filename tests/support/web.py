"""Start deployhook's own commands as real processes on 127.0.0.1 and wait until they answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

DEPLOYHOOK = [sys.executable, "-m", "webhook.cli"]
REPO_ROOT = Path(__file__).resolve().parent.parent.parent


# Every port free_port has handed out in this process: the kernel may offer a port again as
# soon as the probe closes, and a bed that asked twice (an api and its database) then got the
# same port for both and a stack that never answered (seen in a suite run, 2026-12-07).
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 now, never one this process was given before."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@contextmanager
def running(
    argv: list[str],
    env: Mapping[str, str],
    base_url: str,
    cwd: Path | None = None,
    log: Path | None = None,
    health_path: str = "/healthz",
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` until `health_path` at `base_url` answers 200; stop it with SIGTERM afterwards.

    Its output goes to `log` when given, else to this process's stdout and stderr.
    """
    output = log.open("ab") if log else None
    process = subprocess.Popen(
        argv,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        start_new_session=True,
    )
    try:
        _wait_for_health(base_url + health_path, process)
        yield process
    finally:
        stop(process)
        if output:
            output.close()


def stop(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM, then SIGKILL to its whole session if it has not exited within `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_health(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # starting, or a loaded machine
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within 60 s")
