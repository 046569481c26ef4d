"""Path filters at the intake: a push the payload proves unwatched is answered, not queued."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from config import parse_settings
from jobs.state.counters import delivery_counts
from jobs.state.keys import last_good as last_good_key
from jobs.state.records import DeployStore
from tests.support.deliveries import SECRETS, config_text, payload, post_github, queued_jobs
from webhook.app import create_app

LIVE = "9049f1265b7d61be4a8904a9a27120d2064dab3b"  # github-push.json's `before`


@pytest.fixture
def client(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> FlaskClient:
    text = config_text(tmp_path, redis_url).replace(
        "path: /srv/crm-dev\n", 'path: /srv/crm-dev\n        paths: ["services/api/**"]\n', 1
    )
    return create_app(parse_settings(text, "test config", SECRETS)).test_client()


def _push(files: list[str]) -> dict[str, Any]:
    data = payload("github-push.json")
    for commit in data["commits"]:
        commit.update(added=[], removed=[], modified=[])
    data["commits"][0]["modified"] = files
    return data


def _live(connection: redis.Redis, sha: str) -> None:
    connection.set(last_good_key("crm/dev"), json.dumps({"sha": sha, "deploy_id": None}))


def test_unwatched_push_is_ignored_with_200(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """before == live and no listed file is watched: 200 ignored, nothing queued."""
    _live(redis_conn, LIVE)
    response = post_github(client, _push(["docs/guide.md", "web/app.js"]))
    assert (response.status_code, response.json) == (200, {"ignored": "no watched path changed"})
    assert queued_jobs(redis_conn) == []
    assert delivery_counts(redis_conn) == {"github:ignored": 1}


def test_watched_push_is_queued(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """A listed file under a watched path queues the deploy as usual (202)."""
    _live(redis_conn, LIVE)
    response = post_github(client, _push(["docs/guide.md", "services/api/main.py"]))
    assert response.status_code == 202, response.json
    assert queued_jobs(redis_conn) == [response.json["deploy_id"]]


def test_unproven_push_is_queued_for_the_worker(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    """before != live (the diff is wider than the payload) queues; the worker decides."""
    _live(redis_conn, "1" * 40)
    response = post_github(client, _push(["docs/guide.md"]))
    assert response.status_code == 202, response.json
    record = DeployStore(redis_conn).get(response.json["deploy_id"])
    assert (record.state, record.before_sha) == ("queued", LIVE)


def test_forced_push_is_never_ignored(client: FlaskClient, redis_conn: redis.Redis) -> None:
    """A forced push's commit list does not describe its diff: it is queued."""
    _live(redis_conn, LIVE)
    response = post_github(client, {**_push(["docs/guide.md"]), "forced": True})
    assert response.status_code == 202, response.json


def test_unreadable_live_record_queues_instead_of_failing(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    """A last-good value that is not JSON proves nothing: the push is queued, never a 500."""
    redis_conn.set(last_good_key("crm/dev"), b"not json")
    response = post_github(client, _push(["docs/guide.md"]))
    assert response.status_code == 202, response.json
