"""The sample app's continuous writer (Compose profile "writer"): start it, read what it saw.

It inserts a row every 100 ms into `writes` and lists each row the server confirmed in
writer-log/committed; it ignores SIGTERM, as many workers do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.deploying import wait_for
from tests.support.pg_client import WRITES_TABLE, psql
from tests.support.sample_app import SampleApp


def committed(app: SampleApp) -> set[int]:
    """Rows the writer saw committed (it lists each one after the server confirmed it)."""
    log = app.checkout / "writer-log" / "committed"
    return {int(n) for n in log.read_text().split()} if log.exists() else set()


@contextmanager
def writer_running(app: SampleApp) -> Iterator[SampleApp]:
    """The sample app with its writer service running and a few rows already committed."""
    psql(app.pg_port, WRITES_TABLE)
    with (app.checkout / ".env").open("a") as env:
        env.write("COMPOSE_PROFILES=writer\n")
    (app.checkout / "writer-log").mkdir()
    app.compose_ok("up", "-d", "writer")
    wait_for(lambda: len(committed(app)) >= 5, 60, "the writer's first rows")
    yield app
    app.compose("stop", "--timeout", "1", "writer")
