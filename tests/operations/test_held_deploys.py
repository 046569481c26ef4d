"""An operator lock holds deploys without holding a worker; unlock runs the newest of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import redis

from config import Settings
from jobs.state.held import held_ids
from jobs.state.locks import lock_key
from jobs.state.records import DeployStore
from jobs.state.submit import DeployRequest, Submitted, submit
from jobs.worker.start import run_worker
from webhook.cli import main


def _push(connection: redis.Redis, settings: Settings, sha: str) -> str:
    request = DeployRequest("app", "dev", "branch", "main", sha, "github push", sender="octocat")
    result = submit(connection, settings, [request])
    assert isinstance(result, Submitted)
    return result.deploys[0].id


def test_locked_environment_holds_deploys_and_unlock_runs_the_newest(
    settings: Settings, config_file: Path, redis_conn: redis.Redis, repo: Any, capsys: Any
) -> None:
    """Pushes to a locked environment stay queued on the held list; unlock queues them again."""
    assert (
        main(["lock", "app/dev", "--reason", "db maintenance", "--config", str(config_file)]) == 0
    )
    lock = json.loads(redis_conn.get(lock_key("app/dev")) or "{}")
    assert lock["deploy_id"] is None and lock["reason"].endswith("via CLI: db maintenance")
    older, newer = _push(redis_conn, settings, repo.first), _push(redis_conn, settings, repo.first)
    run_worker(settings, redis_conn, burst=True)  # returns: the worker does not wait an hour
    store = DeployStore(redis_conn)
    assert [store.get(i).state for i in (older, newer)] == ["queued", "queued"]
    assert held_ids(redis_conn, "app/dev") == [older, newer]
    assert "not started: held by an operator" in "\n".join(store.log(newer))
    capsys.readouterr()
    assert main(["unlock", "app/dev", "--config", str(config_file)]) == 0
    assert f"queued again: {older}, {newer}" in capsys.readouterr().out
    assert redis_conn.get(lock_key("app/dev")) is None and held_ids(redis_conn, "app/dev") == []
    run_worker(settings, redis_conn, burst=True)
    assert store.get(older).state == "superseded"
    # The newest really ran: the pipeline started (here it stops at the missing compose file).
    ran = store.get(newer)
    assert ran.state != "queued" and [s.name for s in ran.stages][:1] == ["snapshot"]


def test_unlock_refuses_a_deploys_lock(
    config_file: Path, redis_conn: redis.Redis, capsys: Any
) -> None:
    """`unlock` never removes a lock a running deploy holds, and says what to do."""
    value = {
        "deploy_id": "d-20250101-000000-abcdef",
        "host": "h",
        "pid": 1,
        "since": "x",
        "reason": "deploy",
    }
    redis_conn.set(lock_key("app/dev"), json.dumps(value))
    assert main(["unlock", "app/dev", "--config", str(config_file)]) == 1
    assert "deploy d-20250101-000000-abcdef holds the lock" in capsys.readouterr().err
    assert redis_conn.get(lock_key("app/dev")) is not None
