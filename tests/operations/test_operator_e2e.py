"""The operator's verbs against the real sample app: each goes through the queue, the pipeline
and the locks like a push, and leaves the stack, checkout and database as it says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from config import load_settings
from jobs.state.held import held_ids
from jobs.state.records import DeployStore
from tests.support.deploying import config_for, push, work, write_config
from tests.support.sample_app import SampleApp
from webhook.cli import main

pytestmark = pytest.mark.docker
LEFT_BEHIND = r"SELECT datname FROM pg_database WHERE datname LIKE 'app\_\_dh\_%'"
ROOT = Path(__file__).resolve().parents[2]
PHONE_COLUMN = (
    "SELECT count(*) FROM information_schema.columns "
    "WHERE table_name = 'customers' AND column_name = 'phone'"
)
NAMES = "SELECT string_agg(name, ',' ORDER BY name) FROM customers"


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Any]:
    """Start `deployhook worker` for a config file; stopped (by its pid) after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(config_file: Path) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "webhook.cli", "worker", "--config", str(config_file)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(tmp_path / "worker.log", "ab") as log:
            started.append(subprocess.Popen(argv, stdout=log, stderr=log, env=env, cwd=ROOT))
        return started[-1]

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=60)


def _cli(config_file: Path, *argv: str) -> int:
    return main([*argv, "--config", str(config_file)])


def _builds(store: DeployStore, deploy_id: str) -> list[list[str]]:
    return [c["argv"] for c in store.commands(deploy_id) if c["argv"][-1:] == ["build"]]


def test_manual_deploy_redeploy_rollback_and_history(
    sample_app: SampleApp, tmp_path: Path, redis_conn: redis.Redis, redis_url: str,
    worker: Any, capsys: Any,
) -> None:  # fmt: skip
    """Deploy a SHA and the branch head, redeploy without a build, roll back with the database."""
    config = config_for(sample_app.environment_config(), tmp_path / "state", redis_url)
    config_file = write_config(config, tmp_path / "deployhook.yml")
    worker(config_file)
    store = DeployStore(redis_conn)

    assert _cli(config_file, "deploy", "sample/dev", sample_app.v1) == 0
    v2 = sample_app.good_change()
    assert _cli(config_file, "deploy", "sample/dev") == 0  # the trigger branch's head
    out = capsys.readouterr().out
    assert "  migrate   ok" in out and "succeeded" in out
    first, second = store.history("sample/dev")[::-1]
    v1 = sample_app.v1
    assert (first.sha, first.ref_kind, second.sha, second.ref_name) == (v1, "sha", v2, "main")
    assert _builds(store, second.id) != []  # a new commit is built
    assert sample_app.running_version() == "2" and sample_app.psql(PHONE_COLUMN) == "1"

    assert _cli(config_file, "redeploy", second.id) == 0
    redeploy = store.history("sample/dev", limit=1)[0]
    assert redeploy.state == "succeeded" and redeploy.build == "reused"
    assert _builds(store, redeploy.id) == []  # the commit's retained images, no compose build

    assert _cli(config_file, "rollback", "sample/dev") == 1  # restore needs --yes off a terminal
    assert "pass --yes" in capsys.readouterr().err
    # A role that may create databases: the rollback's restore goes through a standby.
    sample_app.psql_as_superuser("ALTER ROLE app CREATEDB")
    assert _cli(config_file, "rollback", "sample/dev", "--yes") == 0
    rollback = store.history("sample/dev", limit=1)[0]
    assert (rollback.trigger, rollback.sha, rollback.state) == ("rollback", v1, "succeeded")
    assert _builds(store, rollback.id) == [] and rollback.build == "reused"
    assert rollback.restored_backup == second.backup  # taken before v2 migrated
    assert sample_app.running_version() == "1" and sample_app.checked_out() == v1
    assert sample_app.psql(PHONE_COLUMN) == "0"
    assert "restore" in [stage.name for stage in rollback.stages]
    kept = Path(str(rollback.kept_database))  # the database before it, renamed aside, dumped
    assert kept.is_file() and kept.name.startswith("dev-kept-")
    assert sample_app.psql(LEFT_BEHIND) == ""

    capsys.readouterr()
    assert _cli(config_file, "history", "sample/dev", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["trigger"] for d in listed] == ["rollback", "manual", "manual", "manual"]
    assert _cli(config_file, "show", rollback.id) == 0
    shown = capsys.readouterr().out
    assert "restore   ok" in shown and "pg_restore" in shown and f"rollback to {first.id}" in shown
    assert _cli(config_file, "logs", "-f", rollback.id) == 0
    assert "reusing retained images" in capsys.readouterr().out


def test_backups_restore_clone_and_lock(
    sample_app: SampleApp, docker_engine: Any, compose_command: list[str], base_image: str,
    tmp_path: Path, redis_conn: redis.Redis, redis_url: str, capsys: Any,
) -> None:  # fmt: skip
    """Back up, verify, restore, clone prod into dev, and hold a push while dev is locked."""
    (tmp_path / "prod").mkdir()
    prod = SampleApp.create(docker_engine, compose_command, base_image, tmp_path / "prod")
    try:
        config = config_for(sample_app.environment_config(), tmp_path / "state", redis_url)
        config["projects"]["sample"]["environments"]["prod"] = prod.environment_config()
        config_file = write_config(config, tmp_path / "deployhook.yml")

        sample_app.psql("INSERT INTO customers (name, email) VALUES ('Before', 'b@x.test')")
        at_backup = sample_app.dump()
        assert _cli(config_file, "backup", "sample/dev") == 0
        taken = Path(capsys.readouterr().out.strip())
        assert taken.parent == sample_app.backups_dir and taken.stat().st_size > 0
        assert not list(sample_app.backups_dir.glob("*.partial"))
        sample_app.psql("INSERT INTO customers (name, email) VALUES ('After', 'a@x.test')")

        assert _cli(config_file, "backups", "list", "sample/dev", "--json") == 0
        assert [b["path"] for b in json.loads(capsys.readouterr().out)] == [str(taken)]
        assert _cli(config_file, "backups", "verify", "sample/dev", taken.name) == 0
        assert capsys.readouterr().out.strip().endswith(": OK")
        assert _cli(config_file, "backups", "restore", "sample/dev", taken.name, "--yes") == 0
        assert sample_app.dump() == at_backup  # 'After' is gone, 'Before' is there
        assert len(list(sample_app.backups_dir.glob("*.dump"))) == 2  # plus the kept database
        assert len(list(sample_app.backups_dir.glob("dev-kept-*.dump"))) == 1
        sample_app.wait_healthy()

        prod.psql("INSERT INTO customers (name, email) VALUES ('Prod only', 'p@x.test')")
        # From here dev's role may create databases: restores go through a standby, swapped in.
        sample_app.psql_as_superuser("ALTER ROLE app CREATEDB")
        assert _cli(config_file, "clone-data", "sample/prod", "sample/dev") == 1
        assert "refusing to overwrite sample/dev" in capsys.readouterr().err
        assert _cli(config_file, "clone-data", "sample/prod", "sample/dev", "--fresh", "--yes") == 0
        assert sample_app.psql(NAMES) == prod.psql(NAMES)
        assert "Prod only" in sample_app.psql(NAMES)
        assert len(list(sample_app.backups_dir.glob("*.dump"))) == 3  # dev backed up first
        assert len(list(prod.backups_dir.glob("*.dump"))) == 1  # the fresh source backup
        assert sample_app.psql(LEFT_BEHIND) == ""  # the standby went in, the old one was dumped

        settings = load_settings(config_file)
        assert _cli(config_file, "lock", "sample/dev", "--reason", "rehearsal") == 0
        assert _cli(config_file, "backups", "restore", "sample/dev", "--yes") == 1
        assert "locked by an operator" in capsys.readouterr().err
        held = push(redis_conn, settings, sample_app.good_change())
        work(settings, redis_conn)  # burst: returns although the push cannot start
        store = DeployStore(redis_conn)
        assert store.get(held.id).state == "queued"
        assert held_ids(redis_conn, "sample/dev") == [held.id]
        assert _cli(config_file, "unlock", "sample/dev") == 0
        work(settings, redis_conn)
        assert store.get(held.id).state == "succeeded", store.get(held.id).error
        assert sample_app.running_version() == "2"
        assert sample_app.psql(LEFT_BEHIND) == ""  # the deploy's unused standby was dropped
    finally:
        prod.stop()
