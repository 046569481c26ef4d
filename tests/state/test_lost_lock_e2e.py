"""A deploy whose lock vanishes mid-deploy stops at its next change; the next deploy runs.

Real engine, real Postgres, real git, two real worker processes. The first deploy is held in
its backup (pg_dump waits for a table lock), its environment lock is deleted (as a Redis that
lost the key would), and a second deploy, waiting for that lock, takes it. The first must not
change anything after that: it ends `interrupted` naming the second, which succeeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.state import keys
from jobs.state.locks import current_owner
from jobs.state.records import DeployStore
from tests.support import drills
from tests.support.deploying import config_for, push, start_worker_process, wait_for, write_config

pytestmark = pytest.mark.docker


def test_worker_that_lost_its_lock_stops_and_the_next_deploy_completes(
    sample_app: Any, redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """Lock deleted while deploy 1 backs up: deploy 2 succeeds, deploy 1 ends interrupted."""
    config = config_for(sample_app.environment_config(), tmp_path / "state", redis_url)
    settings = Settings.model_validate(config)
    config_file = write_config(config, tmp_path / "c.yml")
    store = DeployStore(redis_conn)
    with drills.table_locked(sample_app, "ACCESS EXCLUSIVE"):  # every pg_dump waits here
        first = push(redis_conn, settings, sample_app.good_change())
        worker_one = start_worker_process(config_file, tmp_path / "w1.log")
        wait_for(lambda: drills.last_stage(store, first.id) == "backup", 240, "deploy 1 in backup")
        # Deploy 2's worker starts while the lock is still there: one started after the loss
        # would spend 35 s of its start-up recovery on deploy 1 (lock gone, worker alive).
        second = push(redis_conn, settings, sample_app.commit({"VERSION": "3\n"}, "Version 3"))
        worker_two = start_worker_process(config_file, tmp_path / "w2.log")
        waiting = f"waiting: deploy {first.id}"
        wait_for(lambda: drills.log_mentions(store, second.id, waiting), 120, "deploy 2 to wait")
        redis_conn.delete(keys.lock(first.target))  # Redis lost the key
        wait_for(lambda: drills.last_stage(store, second.id) == "backup", 240, "deploy 2 in backup")
    assert worker_one.wait(timeout=300) == 0, (tmp_path / "w1.log").read_text()[-3000:]
    assert worker_two.wait(timeout=600) == 0, (tmp_path / "w2.log").read_text()[-3000:]
    interrupted, succeeded = store.get(first.id), store.get(second.id)
    assert succeeded.state == "succeeded", succeeded.error
    assert interrupted.state == "interrupted", interrupted.error
    assert f"deploy {second.id}" in str(interrupted.interrupted_by)
    assert interrupted.failed_stage == "checkout"  # its first changing command after the loss
    assert sample_app.checked_out() == succeeded.sha
    assert sample_app.running_version() == "3"
    assert current_owner(redis_conn, first.target) is None
    # At most one deploy ran a changing command at any moment, by the recorded timestamps.
    spans = [
        (command["started"], command["started"] + command["duration"], deploy_id)
        for deploy_id in (first.id, second.id)
        for command in store.commands(deploy_id)
        if not command["read_only"]
    ]
    second_start = min(start for start, _, deploy_id in spans if deploy_id == second.id)
    assert all(end <= second_start for _, end, deploy_id in spans if deploy_id == first.id)
