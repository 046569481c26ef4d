"""The deploy record's `draining` and `warnings`: old records load, a finished one is amended."""

from __future__ import annotations

import json

import redis

from jobs.state import keys
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from jobs.state.reports import snapshots

SHA = "0123456789abcdef0123456789abcdef01234567"


def _deploy() -> Deploy:
    return Deploy(new_deploy_id(), "crm", "dev", "branch", "main", SHA, "github push")


def test_a_record_written_before_the_fields_loads_with_none() -> None:
    """A stored record without `draining` or `warnings` reads back with an empty one of each."""
    stored = json.loads(_deploy().to_json())
    del stored["draining"], stored["warnings"]
    record = Deploy.from_json(json.dumps(stored))
    assert (record.draining, record.warnings) == ({}, [])


def test_hostile_values_read_back_as_text_only() -> None:
    """Items that are not text (a hand edit, a bug) are left out, never passed on."""
    stored = {**json.loads(_deploy().to_json()), "warnings": ["kept", 5, None, {"a": 1}]}
    stored["draining"] = {"abc": "2026-12-07T02:00:00.000Z", "def": 7}
    record = Deploy.from_json(json.dumps(stored))
    assert record.warnings == ["kept"]
    assert record.draining == {"abc": "2026-12-07T02:00:00.000Z"}
    assert Deploy.from_json(json.dumps({**stored, "warnings": "x"})).warnings == []


def test_amending_a_finished_deploy_keeps_its_expiry(redis_conn: redis.Redis) -> None:
    """A warning after the end is written with a snapshot for the reporters (a follow-up
    report); the record keeps the expiry its end gave it, with or without a report."""
    store = DeployStore(redis_conn, keep_days=1)
    record = _deploy()
    store.create(record)
    store.transition(record, "running")
    store.transition(record, "succeeded", draining={"c0ffee": "2026-12-07T02:00:00.000Z"})
    before = len(snapshots(redis_conn, record.id))
    ttl = redis_conn.ttl(keys.deploy(record.id))
    assert 0 < ttl <= 24 * 3600
    record.draining = {}
    store.amend(record, report=False)
    assert len(snapshots(redis_conn, record.id)) == before
    record.warnings.append("api: the old container c0ffee was not removed")
    store.amend(record, report=True)
    assert 0 < redis_conn.ttl(keys.deploy(record.id)) <= ttl
    last = Deploy.from_json(snapshots(redis_conn, record.id)[-1])
    assert (last.state, last.warnings, last.draining) == ("succeeded", record.warnings, {})
    assert len(snapshots(redis_conn, record.id)) == before + 1
    assert store.get(record.id).warnings == record.warnings
