"""Each environment's state: lock and last-good values read defensively, from real Redis."""

from __future__ import annotations

import json

import pytest
import redis

from jobs.state.keys import last_good as last_good_key
from jobs.state.keys import lock as lock_key
from jobs.state.lastgood import LastGood, parse_last_good
from jobs.state.owners import Lock, parse_lock
from jobs.state.records import DeployStore
from tests.support.status import example_settings, make_deploy, set_json
from webhook.status.environments import environment_statuses

DEPLOY = "d-20261124-101500-abcdef"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, Lock("free")),
        (b"not json", Lock("unknown")),
        (b"[1, 2]", Lock("unknown")),
        (b"\xff\xfe", Lock("unknown")),
        (
            json.dumps({"deploy_id": DEPLOY, "host": "h1", "pid": 42, "since": "t"}),
            Lock("deploy", DEPLOY, "h1", 42, None, "t"),
        ),
        (json.dumps({"owner": DEPLOY}), Lock("deploy", DEPLOY)),
        (json.dumps({"deploy_id": "rm -rf /"}), Lock("unknown")),
        (
            json.dumps({"deploy_id": None, "reason": "maintenance", "pid": "x"}),
            Lock("operator", reason="maintenance"),
        ),
        (json.dumps({"pid": True}), Lock("operator")),
    ],
)
def test_parse_lock(raw: bytes | str | None, expected: Lock) -> None:
    """Lock values become free/deploy/operator, and anything malformed becomes unknown."""
    assert parse_lock(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        (b"{", LastGood(known=False)),
        (json.dumps({"deploy_id": DEPLOY}), LastGood(known=False)),
        (json.dumps("abc"), LastGood(known=False)),
        (
            json.dumps({"deploy_id": DEPLOY, "sha": "abc", "backup": "b.gz", "at": "t"}),
            LastGood(True, DEPLOY, "abc", "b.gz", "t"),
        ),
        (json.dumps({"deploy_id": "<x>", "sha": "abc"}), LastGood(True, None, "abc")),
    ],
)
def test_parse_last_good(raw: bytes | str | None, expected: LastGood | None) -> None:
    """Last-good values become a record, None when absent, and known=False when unreadable."""
    assert parse_last_good(raw) == expected


def test_statuses_combine_history_lock_last_good_and_queue(redis_conn: redis.Redis) -> None:
    """Each configured environment shows its newest deploy, lock, last good commit and queue."""
    store = DeployStore(redis_conn)
    make_deploy(store, "dev")
    newest = make_deploy(store, "dev", state="running")
    set_json(redis_conn, lock_key("crm/dev"), {"deploy_id": newest.id, "host": "h", "pid": 7})
    set_json(redis_conn, last_good_key("crm/dev"), {"deploy_id": DEPLOY, "sha": "f" * 40})
    redis_conn.set(last_good_key("crm/prod"), b"garbage")
    statuses = {s.target: s for s in environment_statuses(example_settings(), redis_conn)}
    assert sorted(statuses) == ["crm/dev", "crm/prod"]
    dev, prod = statuses["crm/dev"], statuses["crm/prod"]
    assert dev.last_deploy is not None and dev.last_deploy.id == newest.id
    assert (dev.lock.state, dev.lock.deploy_id) == ("deploy", newest.id)
    assert dev.last_good == LastGood(True, DEPLOY, "f" * 40)
    assert (dev.queue, dev.queue_length) == ("deploys.local", 0)
    assert (prod.last_deploy, prod.lock.state, prod.last_good) == (None, "free", LastGood(False))
    assert prod.production is True and dev.production is False
    assert dev.as_dict()["last_deploy"]["id"] == newest.id
