"""Bounded Redis: history retention removes whole deploys, and logs are capped, cuts marked."""

from __future__ import annotations

import json
import time

import redis

from jobs.state import keys
from jobs.state.lastgood import write_last_good
from jobs.state.records import LINE_LIMIT, LOG_CUT, LOG_LIMIT, Deploy, DeployStore, new_deploy_id
from jobs.state.retention import prune

TARGET = "crm/dev"
KEEP_DEPLOYS = 20
KEEP_DAYS = 30
DAY = 24 * 3600


def _finished(store: DeployStore) -> Deploy:
    record = Deploy(new_deploy_id(), "crm", "dev", "branch", "main", "a" * 40, "test push")
    store.create(record)
    store.append_log(record.id, "building", "done")
    store.append_command(record.id, {"argv": ["true"], "exit": 0})
    store.add_reporting_problem(record.id, "slack: HTTP 500")
    store.transition(record, "running")
    store.transition(record, "succeeded")
    return record


def test_after_n_plus_100_deploys_nothing_past_the_retention_is_left(
    redis_conn: redis.Redis,
) -> None:
    """N+100 finished deploys, 30 of them older than keep_days: only the newest N stay, plus a
    still-running old one and the last good one; every key of the others is gone (counted in
    Redis), no index names a missing record, and what stays expires with the retention."""
    store = DeployStore(redis_conn, keep_days=KEEP_DAYS)
    records = [_finished(store) for _ in range(KEEP_DEPLOYS + 100)]
    running = Deploy(new_deploy_id(), "crm", "dev", "branch", "main", "b" * 40, "test push")
    store.create(running)
    store.transition(running, "running")
    long_ago = time.time() - 40 * DAY
    aged = [*records[:30], running]
    for index in (keys.history(), keys.history(TARGET)):
        redis_conn.zadd(index, {record.id: long_ago for record in aged}, xx=True)
    last_good = records[5]  # old, and still what a rollback goes back to
    write_last_good(redis_conn, TARGET, json.dumps({"deploy_id": last_good.id, "sha": "a" * 40}))
    removed = prune(redis_conn, [TARGET], KEEP_DEPLOYS, KEEP_DAYS)
    kept = {r.id for r in records[-KEEP_DEPLOYS:]} | {running.id, last_good.id}
    assert len(removed) == len(records) + 1 - len(kept)
    left = {as_id(key) for key in redis_conn.scan_iter("deployhook:deploy:*")}
    assert left == kept
    assert len(list(redis_conn.scan_iter("deployhook:deploy:*"))) < 8 * len(kept)
    for index in (keys.history(), keys.history(TARGET)):
        assert {i.decode() for i in redis_conn.zrange(index, 0, -1)} == kept
    cutoff = time.time() - KEEP_DAYS * DAY
    too_old = redis_conn.zrangebyscore(keys.history(TARGET), "-inf", cutoff)
    assert {i.decode() for i in too_old} == {running.id, last_good.id}
    for deploy_id in kept - {running.id}:
        for key in (keys.deploy(deploy_id), keys.log(deploy_id), keys.commands(deploy_id)):
            assert 0 < redis_conn.ttl(key) <= KEEP_DAYS * DAY, key
    assert redis_conn.ttl(keys.deploy(running.id)) == -1  # not finished: never expires
    assert prune(redis_conn, [TARGET], KEEP_DEPLOYS, KEEP_DAYS) == []


def as_id(key: bytes) -> str:
    return key.decode().split(":")[2]


def test_log_lines_and_log_length_are_capped_and_the_cut_says_so(redis_conn: redis.Redis) -> None:
    """A line past LINE_LIMIT is cut with a note of how much; past LOG_LIMIT lines the oldest
    go and the log's first line says lines were cut."""
    store = DeployStore(redis_conn)
    store.append_log("d-x", "x" * (LINE_LIMIT + 123))
    (line,) = store.log("d-x")
    assert line == "x" * LINE_LIMIT + " [line cut: 123 more characters]"
    lines = [f"line {n}" for n in range(LOG_LIMIT + 50)]
    for start in range(0, len(lines), 5000):
        store.append_log("d-x", *lines[start : start + 5000])
    log = store.log("d-x")
    assert len(log) == LOG_LIMIT
    assert log[0] == LOG_CUT and log[-1] == f"line {LOG_LIMIT + 49}"
    assert log[1] == f"line {50 + 1}"
