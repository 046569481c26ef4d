"""The operator verbs against real Redis and a real git origin (no Docker): what they queue
and print, and how they refuse."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis
from flask import Flask

from config import Settings
from jobs.state.keys import last_good as last_good_key
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from tests.operations.conftest import TOKEN
from webhook.status import register

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _cli(config_file: Path, *argv: str) -> int:
    from webhook.cli import main

    return main([*argv, "--config", str(config_file)])


def _succeeded(store: DeployStore, sha: str, backup: str) -> Deploy:
    deploy = Deploy(new_deploy_id(), "app", "dev", "branch", "main", sha, "github push")
    store.create(deploy)
    done = replace(deploy, state="succeeded", backup=backup)
    store.save(done)
    return done


def test_deploy_and_redeploy_queue_manual_deploys(
    config_file: Path, redis_conn: redis.Redis, repo: Any, capsys: Any
) -> None:
    """`deploy --no-wait` queues the ref's commit; `redeploy` queues the same commit again."""
    head = repo.commit("second")
    assert _cli(config_file, "deploy", "app/dev", "--no-wait") == 0
    first_id = capsys.readouterr().out.strip()
    store = DeployStore(redis_conn)
    queued = store.get(first_id)
    assert (queued.sha, queued.ref_name, queued.trigger) == (head, "main", "manual")
    assert queued.sender and queued.state == "queued"
    assert _cli(config_file, "redeploy", first_id, "--no-wait") == 0
    again = store.get(capsys.readouterr().out.strip())
    assert (again.sha, again.ref_kind, again.redeploy_of) == (head, "branch", first_id)


def test_refusals_are_one_sentence_with_what_to_do(
    config_file: Path, redis_conn: redis.Redis, capsys: Any
) -> None:
    """Unknown environment, ref, deploy id or backup, or one environment twice: exit 1, clearly."""
    assert _cli(config_file, "deploy", "app/staging", "--no-wait") == 1
    assert "configured: app/dev, app/prod" in capsys.readouterr().err
    assert _cli(config_file, "deploy", "app/dev", "no-such-branch", "--no-wait") == 1
    assert "no branch or tag 'no-such-branch'" in capsys.readouterr().err
    assert _cli(config_file, "show", "d-20250101-000000-abcdef") == 1
    err = capsys.readouterr().err
    assert "no deploy d-20250101-000000-abcdef" in err and "Traceback" not in err
    assert _cli(config_file, "clone-data", "app/dev", "app/dev", "--yes") == 1
    assert "name two environments" in capsys.readouterr().err
    assert _cli(config_file, "backups", "restore", "app/dev", "--yes") == 1
    assert "has no backups yet: take one with `deployhook backup`" in capsys.readouterr().err


def test_rollback_with_a_database_restore_needs_a_yes(
    config_file: Path, redis_conn: redis.Redis, repo: Any, tmp_path: Path, capsys: Any
) -> None:
    """Without a terminal and without --yes, a rollback that restores the database is refused."""
    store = DeployStore(redis_conn)
    backup = tmp_path / "before-v2.dump"
    backup.write_bytes(b"dump")
    good = _succeeded(store, repo.first, str(tmp_path / "before-v1.dump"))
    current = _succeeded(store, repo.commit("v2"), str(backup))
    assert _cli(config_file, "rollback", "app/dev", "--no-wait") == 1
    err = capsys.readouterr().err
    assert "not a terminal: pass --yes" in err and "--keep-database" in err
    assert len(store.history("app/dev")) == 2  # nothing was queued
    assert _cli(config_file, "rollback", "app/dev", "--no-wait", "--yes") == 0
    rollback = store.get(capsys.readouterr().out.strip())
    assert (rollback.sha, rollback.trigger) == (good.sha, "rollback")
    assert (rollback.rollback_to, rollback.restore_backup) == (good.id, str(backup))
    assert (
        _cli(config_file, "rollback", "app/dev", "--to", good.id, "--keep-database", "--no-wait")
        == 0
    )
    assert store.get(capsys.readouterr().out.strip()).restore_backup is None
    assert current.id != good.id


def test_history_and_show_print_text_and_json(
    config_file: Path, redis_conn: redis.Redis, repo: Any, capsys: Any
) -> None:
    """history lists newest first (text and JSON); show prints stages, commands and the log."""
    store = DeployStore(redis_conn)
    older = _succeeded(store, repo.first, "/b/1.dump")
    newer = _succeeded(store, repo.commit("v2"), "/b/2.dump")
    store.append_log(newer.id, "12:00:00 == build")
    store.append_command(
        newer.id, {"argv": ["docker", "compose", "build"], "exit": 0, "duration": 1.5}
    )
    assert _cli(config_file, "history", "app/dev", "--json") == 0
    assert [d["id"] for d in json.loads(capsys.readouterr().out)] == [newer.id, older.id]
    assert _cli(config_file, "history", "--limit", "1") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(newer.id) and "succeeded" in lines[0]
    assert _cli(config_file, "show", newer.id) == 0
    shown = capsys.readouterr().out
    assert "docker compose build" in shown and "== build" in shown and "/b/2.dump" in shown
    assert _cli(config_file, "logs", newer.id, "-f") == 0  # final already: prints and returns
    assert capsys.readouterr().out == "12:00:00 == build\n"


def test_status_api_deploy_and_rollback_actions(
    settings: Settings, redis_conn: redis.Redis, repo: Any
) -> None:
    """POST deploy and rollback answer 202 with the queued deploy's id; both need the token."""
    app = Flask("operator-actions")
    register(app, settings, redis_conn)
    client = app.test_client()
    base = "/api/environments/app/dev"
    assert client.post(f"{base}/deploy", json={"ref": "main"}).status_code == 401
    answer = client.post(f"{base}/deploy", json={"ref": "main"}, headers=AUTH)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    store = DeployStore(redis_conn)
    assert store.get(answer.get_json()["deploy_id"]).trigger == "manual"
    assert client.post(f"{base}/deploy", json={"ref": 5}, headers=AUTH).status_code == 400
    unknown = client.post(f"{base}/deploy", json={"ref": "nope"}, headers=AUTH)
    assert unknown.status_code == 422 and "no branch or tag" in unknown.get_json()["error"]
    nothing = client.post(f"{base}/rollback", json={}, headers=AUTH)
    assert nothing.status_code == 422, nothing.get_data(as_text=True)
    good = _succeeded(store, repo.first, "/b/1.dump")
    _succeeded(store, repo.commit("v2"), "/b/2.dump")
    body = {"to": None, "restore_database": True}
    rolled = client.post(f"{base}/rollback", json=body, headers=AUTH)
    assert rolled.status_code == 202, rolled.get_data(as_text=True)
    assert rolled.get_json()["restore_backup"] == "/b/2.dump"
    assert store.get(rolled.get_json()["deploy_id"]).rollback_to == good.id
    assert redis_conn.get(last_good_key("app/dev")) is None  # nothing ran: only queued
