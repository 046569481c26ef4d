"""/metrics: Prometheus text built from Redis at scrape time, readable by Prometheus' own parser."""

from __future__ import annotations

import redis
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from jobs.state.keys import DELIVERY_COUNTS as DELIVERIES_KEY
from jobs.state.keys import last_good as last_good_key
from jobs.state.keys import lock as lock_key
from jobs.state.records import DeployStore
from tests.support.status import make_deploy, set_json, stage, status_app


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _at(env: str, **labels: str) -> frozenset[tuple[str, str]]:
    return frozenset({"project": "crm", "environment": env, **labels}.items())


def test_metrics_reflect_history_queues_locks_and_deliveries(redis_conn: redis.Redis) -> None:
    """Each metric family reports what Redis holds at the moment of the scrape."""
    store = DeployStore(redis_conn)
    make_deploy(
        store, "dev", state="succeeded", finished_at="2026-01-01T00:10:00Z",
        stages=[stage("build", "2026-01-01T00:00:00Z", "2026-01-01T00:00:30Z")],
        warnings=["api: retiring the old container(s) 0123456789ab failed"],
    )  # fmt: skip
    make_deploy(
        store, "dev", state="failed",
        stages=[stage("build", "2026-01-02T00:00:00Z", "2026-01-02T00:00:10Z", "failed")],
    )  # fmt: skip
    Queue("deploys.local", connection=redis_conn).enqueue_call("jobs.entry.run_deploy", ("x",))
    set_json(redis_conn, lock_key("crm/dev"), {"reason": "maintenance"})
    set_json(redis_conn, last_good_key("crm/prod"), {"sha": "abc", "at": "2025-06-01T00:00:00Z"})
    redis_conn.hset(DELIVERIES_KEY, mapping={"github:accepted": 3, "gitlab:bad_signature": 1})
    redis_conn.hset(DELIVERIES_KEY, "malformed", 5)

    answer = status_app(redis_conn).test_client().get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    samples = _samples(answer.get_data(as_text=True))

    assert samples[("deployhook_redis_up", frozenset())] == 1
    assert samples[("deployhook_deploys", _at("dev", state="succeeded"))] == 1
    assert samples[("deployhook_deploys", _at("dev", state="failed"))] == 1
    assert samples[("deployhook_deploys", _at("prod", state="failed"))] == 0
    assert samples[("deployhook_deploys_with_warnings", _at("dev"))] == 1
    assert samples[("deployhook_deploys_with_warnings", _at("prod"))] == 0
    assert samples[("deployhook_stage_last_duration_seconds", _at("dev", stage="build"))] == 10
    assert samples[("deployhook_stage_mean_duration_seconds", _at("dev", stage="build"))] == 20
    assert samples[("deployhook_last_success_timestamp_seconds", _at("dev"))] == 1767226200
    assert samples[("deployhook_last_success_timestamp_seconds", _at("prod"))] == 1748736000
    assert samples[("deployhook_environment_locked", _at("dev"))] == 1
    assert samples[("deployhook_environment_locked", _at("prod"))] == 0
    assert samples[("deployhook_queue_length", frozenset({("queue", "deploys.local")}))] == 1
    deliveries = "deployhook_webhook_deliveries_total"
    assert samples[(deliveries, frozenset({("provider", "github"), ("result", "accepted")}))] == 3
    assert not any(name == deliveries and ("provider", "malformed") in labels
                   for name, labels in samples)  # fmt: skip


def test_metrics_say_when_redis_is_down(redis_conn: redis.Redis) -> None:
    """With Redis unreachable, /metrics still answers, with deployhook_redis_up 0."""
    dead = redis.Redis.from_url("unix:///nonexistent/redis.sock")
    answer = status_app(dead).test_client().get("/metrics")
    assert answer.status_code == 200
    assert _samples(answer.get_data(as_text=True)) == {("deployhook_redis_up", frozenset()): 0}
