"""Drills: real parts break under a running deploy (database, disk, backup file).

Each ends with the environment serving a known commit, the lock free, and the record and the
reports (the real consumer, against a loopback JSON webhook and Slack stand-in) saying so.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.commands import rehearsal
from jobs.runbook.stages.commit import read_last_good
from jobs.state import keys
from jobs.state.locks import current_owner
from jobs.state.records import Deploy, DeployStore
from tests.support import drills
from tests.support.commands import run
from tests.support.deploying import deploy, push, start_worker_process, wait_for, write_config
from tests.support.failures import assert_cause
from tests.support.provider_server import SLACK, WEBHOOK, ProviderServer

pytestmark = pytest.mark.docker
MENTION = "<!subteam^S0DRILL|oncall>"


def _run_in_worker(config: dict[str, Any], tmp_path: Path) -> subprocess.Popen[bytes]:
    return start_worker_process(write_config(config, tmp_path / "c.yml"), tmp_path / "w.log")


def _finish(worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    assert worker.wait(timeout=300) == 0, (tmp_path / "w.log").read_text()[-3000:]


def _events(provider: ProviderServer, deploy_id: str) -> list[dict[str, Any]]:
    return [s.body for s in provider.to(WEBHOOK) if s.body["deploy"]["id"] == deploy_id]


def _unchanged(
    app: Any,
    record: Deploy,
    before: dict[str, Any],
    conn: redis.Redis,
    cause: str | tuple[str, ...],
) -> None:
    """Nothing was changed: same commit, same containers, same data, no backup, lock free."""
    assert record.state == "failed", record.error
    assert record.failed_stage == "backup", record.error
    assert_cause(record, cause)
    assert "nothing was changed" in (record.error or "")
    assert app.checked_out() == before["sha"]
    assert app.container_ids() == before["containers"]
    assert app.dump() == before["dump"]
    assert list(app.backups_dir.iterdir()) == []
    assert current_owner(conn, record.target) is None


def _before(app: Any) -> dict[str, Any]:
    return {"sha": app.checked_out(), "containers": app.container_ids(), "dump": app.dump()}


def test_database_stopped_during_the_backup_fails_with_nothing_changed(
    sample_app: Any,
    settings: Settings,
    config: dict[str, Any],
    redis_conn: redis.Redis,
    provider: ProviderServer,
    tmp_path: Path,
) -> None:
    """The database container stops while pg_dump runs: failed, nothing changed, no file."""
    before = _before(sample_app)
    store = DeployStore(redis_conn)
    with drills.table_locked(sample_app, "ACCESS EXCLUSIVE"):  # pg_dump waits for it
        queued = push(redis_conn, settings, sample_app.good_change())
        worker = _run_in_worker(config, tmp_path)
        wait_for(lambda: drills.last_stage(store, queued.id) == "backup", 120, "the backup")
        wait_for(lambda: drills.log_mentions(store, queued.id, "pg_dump"), 60, "pg_dump")
        sample_app.compose_ok("stop", "postgres")
        _finish(worker, tmp_path)
        sample_app.compose_ok("start", "postgres")
        sample_app.wait_healthy()
    before["containers"] = sample_app.container_ids()  # postgres restarted, api untouched
    # pg_dump is killed with the container (137), or first told by the server it is stopping,
    # or (the stop came between the logged command and pg_dump's connection) refused by it,
    # or finds its socket already gone (the server had removed it on the way down).
    causes = (
        "exited 137",
        "FATAL: terminating connection due to administrator command",
        "FATAL: the database system is shutting down",
        f'.s.PGSQL.{sample_app.pg_port}" failed: No such file or directory',
    )
    _unchanged(sample_app, store.get(queued.id), before, redis_conn, causes)
    assert _events(provider, queued.id)[-1]["event"] == "failed"


@pytest.fixture
def small_backup_disk(sample_app: Any) -> Iterator[Path]:
    """The backup directory on a 2 MB tmpfs (root only), unmounted afterwards."""
    directory = sample_app.backups_dir
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def test_disk_full_during_the_backup_fails_and_leaves_no_partial_file(
    sample_app: Any,
    settings: Settings,
    redis_conn: redis.Redis,
    provider: ProviderServer,
    small_backup_disk: Path,
) -> None:
    """A dump bigger than the disk: failed, no partial backup left, nothing changed."""
    # About 3 MB of hex that compresses poorly: more than the 2 MB disk holds.
    sample_app.psql(
        "CREATE TABLE filler AS SELECT md5(random()::text) || md5(random()::text) AS junk "
        "FROM generate_series(1, 100000)"
    )
    before = _before(sample_app)
    record = deploy(settings, redis_conn, sample_app.good_change())
    _unchanged(sample_app, record, before, redis_conn, "no space left on device")
    assert "no space left on device" in (record.error or "")
    assert list(small_backup_disk.iterdir()) == []


def test_revert_without_its_backup_is_revert_failed_and_loud(
    sample_app: Any,
    config: dict[str, Any],
    redis_conn: redis.Redis,
    provider: ProviderServer,
    tmp_path: Path,
) -> None:
    """The backup deleted mid-deploy: the restore fails, revert_failed, Slack mentions on-call."""
    config["notify"]["slack"] = {"webhook_url": provider.url(SLACK), "mention": MENTION}
    environment = config["projects"]["sample"]["environments"]["dev"]
    environment["health"]["timeout"] = 5
    settings = Settings.model_validate(config)
    store = DeployStore(redis_conn)
    queued = push(redis_conn, settings, sample_app.destructive_migration_unhealthy_code())
    worker = _run_in_worker(config, tmp_path)

    def backed_up() -> bool:
        record = store.get(queued.id)
        return record.backup is not None and record.stages[-1].name != "backup"

    wait_for(backed_up, 120, "the backup to be written")
    Path(store.get(queued.id).backup).unlink()
    _finish(worker, tmp_path)
    record = store.get(queued.id)
    assert record.state == "revert_failed", record.error
    assert record.failed_stage == "health"
    assert "REVERT FAILED, needs a human" in (record.error or "")
    assert_cause(record, "not healthy within")
    assert "restore database" in record.revert_error
    assert record.restored_backup is None
    assert current_owner(redis_conn, record.target) is None
    assert read_last_good(redis_conn, record.target) is None  # never a commit point
    assert sample_app.checked_out() == sample_app.v1  # the code went back all the same
    assert sample_app.running_version() == "1"
    last = _events(provider, queued.id)[-1]
    assert (last["event"], last["deploy"]["revert_error"]) == (
        "revert_failed",
        record.revert_error,
    )
    slack = [seen.body["text"] for seen in provider.to(SLACK)]
    assert slack and slack[-1].startswith(MENTION), slack


def test_flapping_health_passes_at_its_first_healthy_answer(
    sample_app: Any, settings: Settings, redis_conn: redis.Redis, provider: ProviderServer
) -> None:
    """Healthy, unhealthy, healthy within the deadline: succeeded (the documented rule)."""
    sha = sample_app.flapping_health()
    record = deploy(settings, redis_conn, sha)
    assert record.state == "succeeded", record.error
    assert sample_app.checked_out() == sha
    assert sample_app.running_version() == "flapping"
    assert read_last_good(redis_conn, record.target)["sha"] == sha
    assert current_owner(redis_conn, record.target) is None
    sample_app.wait_healthy()  # past the flap, so the api's log holds all three phases
    answers = [
        line.split()[-2]
        for line in sample_app.compose_ok("logs", "--no-log-prefix", "api").splitlines()
        if "/api/v1/healthz" in line
    ]
    assert "503" in answers and answers[-1] == "200", answers  # it did flap


def test_lock_lost_mid_rehearsal_still_takes_the_throwaway_away(
    sample_app: Any, config: dict[str, Any], redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """Lock lost while the rehearsal migrates: interrupted, production as it was, no leftover."""
    config["projects"]["sample"]["environments"]["dev"]["migrate"]["rehearse"] = True
    settings = Settings.model_validate(config)
    before = _before(sample_app)
    store = DeployStore(redis_conn)
    # Long enough to see the rehearsal migrating and take the lock away (a poll of docker ps
    # takes well under a second); the rest of it is waited out.
    queued = push(redis_conn, settings, drills.slow_migration(sample_app, seconds=8))
    worker = _run_in_worker(config, tmp_path)
    wait_for(lambda: len(_rehearsal(sample_app, queued.id)) == 2, 240, "the rehearsal migration")
    redis_conn.delete(keys.lock(queued.target))  # Redis lost the key
    _finish(worker, tmp_path)
    record = store.get(queued.id)
    assert record.state == "interrupted", record.error
    assert _rehearsal(sample_app, queued.id, "--all") == []  # not even the stopped database
    # The rehearsal passed and cleaned up; the swap, fenced, found the lock gone.
    assert [(s.name, s.outcome) for s in record.stages][-2:] == [
        ("rehearse", "ok"),
        ("swap", "failed"),
    ]
    assert sample_app.container_ids() == before["containers"]
    assert sample_app.dump() == before["dump"]


def _rehearsal(app: Any, deploy_id: str, *flags: str) -> list[str]:
    """Names of the deploy's rehearsal containers (running; with "--all", any)."""
    argv = ["docker", "ps", *flags, "--filter", f"label={rehearsal.LABEL}={deploy_id}"]
    return run([*argv, "--format", "{{.Names}}"], env=app.engine.env).stdout.split()
