"""The sample app's continuous writer (Compose profile "writer"): start it, read what it saw.

It inserts a row every 100 ms into `writes` and lists each row the server confirmed in
writer-log/committed; it ignores SIGTERM, as many workers do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.state.records import Deploy
from tests.support.deploying import wait_for
from tests.support.pg_client import WRITES_TABLE, dump, numbers, psql, restore_copy
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


def check_restored_and_kept(app: SampleApp, record: Deploy) -> None:
    """After a revert that restored under the writer: the database is the backup again (plus
    only newer writes), and every committed write the restore discarded is in the kept copy."""
    app.compose_ok("stop", "--timeout", "1", "writer")  # the database holds still from here
    acknowledged, live = committed(app), numbers(app.pg_port)
    expected = restore_copy(app.pg_port, Path(record.restored_backup or ""), "expected_copy")
    without_writes = "--exclude-table-data=writes"
    assert dump(app.pg_port, "app", without_writes) == dump(app.pg_port, expected, without_writes)
    in_backup = numbers(app.pg_port, expected)
    assert {n for n in live if n <= max(in_backup)} == in_backup  # then only newer writes
    discarded = acknowledged - live
    assert discarded, "expected the restore to discard the writes made during the deploy"
    kept = Path(str(record.kept_database))
    assert discarded <= numbers(app.pg_port, restore_copy(app.pg_port, kept, "kept_copy"))
