"""`--force REASON` from the CLI and `force` in the status API: recorded on the queued deploy;
an empty reason is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis
from flask import Flask

from config import Settings
from jobs.state.records import DeployStore
from tests.operations.conftest import TOKEN
from webhook.cli import main
from webhook.status import register


def test_cli_force_records_the_reason(
    config_file: Path, redis_conn: redis.Redis, repo: Any, capsys: Any
) -> None:
    """`deploy --force REASON` and `redeploy --force REASON` put the reason on the deploy."""
    cli_words = ["deploy", "app/dev", "--force", "hotfix for incident 42", "--no-wait"]
    assert main([*cli_words, "--config", str(config_file)]) == 0
    store = DeployStore(redis_conn)
    first = store.get(capsys.readouterr().out.strip())
    assert first.override_reason == "hotfix for incident 42"
    again = ["redeploy", first.id, "--force", "again", "--no-wait", "--config", str(config_file)]
    assert main(again) == 0
    assert store.get(capsys.readouterr().out.strip()).override_reason == "again"
    assert (
        main(["deploy", "app/dev", "--force", " ", "--no-wait", "--config", str(config_file)]) == 1
    )
    assert "--force needs a reason" in capsys.readouterr().err


def test_status_api_force(settings: Settings, redis_conn: redis.Redis, repo: Any) -> None:
    """POST deploy with {"force": REASON} records it; a non-string force is a 400."""
    app = Flask("force-actions")
    register(app, settings, redis_conn)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = "/api/environments/app/dev/deploy"
    answer = client.post(url, json={"ref": "main", "force": "db fix"}, headers=auth)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    deploy = DeployStore(redis_conn).get(answer.get_json()["deploy_id"])
    assert deploy.override_reason == "db fix"
    assert client.post(url, json={"force": True}, headers=auth).status_code == 400
    assert client.post(url, json={"force": ""}, headers=auth).status_code == 422
