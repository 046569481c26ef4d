"""Real restic repositories for the off-site tests: a local path, SFTP through the loopback
sshd (tests/support/sshd.py), and S3 on moto's server (a real S3 API on loopback)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.support.commands import BedError
from tests.support.web import free_port

PASSWORD = "restic-test-password-3f9a"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "deployhook-test", "AWS_SECRET_ACCESS_KEY": "deployhook-test-key"}
READY_SECONDS = 20


@contextmanager
def running_moto(directory: Path) -> Iterator[str]:
    """moto's S3 server on a free loopback port; yields its endpoint URL."""
    port = free_port()
    server = Path(sys.executable).parent / "moto_server"
    log = (directory / "moto.log").open("ab")
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise BedError(f"moto_server exited {process.returncode}: see {directory}")
            try:
                requests.get(url, timeout=5)
                break
            except requests.RequestException:  # refused, or too slow to answer yet
                if time.monotonic() > deadline:
                    wanted = f"expected moto_server on {url} within {READY_SECONDS}s"
                    raise BedError(wanted) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def offsite_config(repository: str, password_file: Path, **extra: Any) -> dict[str, Any]:
    """`backups.offsite` as a user writes it, the password in a file of its own."""
    password_file.write_text(PASSWORD + "\n")
    return {"repository": repository, "password_file": str(password_file), **extra}


def restic_env() -> dict[str, str]:
    return {**os.environ, "RESTIC_PASSWORD": PASSWORD}
