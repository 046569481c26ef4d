"""A client writing to the swarm's database through the bed's loopback forward, and psql.

The writer inserts one row every 50 ms, each in its own psql session (a client that reconnects
for every write, as a pool after a failover would); a row counts as acknowledged only when psql
exited 0, that is when the server confirmed its commit.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tests.support.commands import BedError, run

if TYPE_CHECKING:
    from tests.support.swarm_app import SwarmApp

PSQL = Path("/usr/lib/postgresql/15/bin/psql")
WRITES_TABLE = "CREATE TABLE IF NOT EXISTS writes (n integer PRIMARY KEY)"
INTERVAL = 0.05


def _argv(port: int, database: str) -> list[str]:
    argv = [str(PSQL), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"]
    return [*argv, "-p", str(port), "-U", "postgres", "-d", database]


def run_psql(app: SwarmApp, sql: str, database: str = "app") -> str:
    """Run SQL on the stack's database as the superuser; a failure raises BedError."""
    return run([*_argv(app.database_port, database), "-c", sql], timeout=60).stdout.strip()


class Writer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.acknowledged: set[int] = set()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            if time.monotonic() > deadline:
                raise BedError(f"the writer acknowledged {len(self.acknowledged)} of {count}")
            time.sleep(0.1)

    def _write(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            insert = f"INSERT INTO writes (n) VALUES ({n:d})"  # noqa: S608 - an int of ours
            argv = [*_argv(self.port, "app"), "-c", insert]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
            if done.returncode == 0:
                self.acknowledged.add(n)
            else:
                self.errors.append(f"row {n}: {done.stderr.strip()}")
            time.sleep(INTERVAL)
