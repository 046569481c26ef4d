"""Held outside a deploy window: listed like an operator's hold, queued again when it opens."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import redis
from rq import Queue

from config import Settings
from config.gates import DAYS
from jobs.gates.waker import start_window_waker, wake_due
from jobs.report import drain
from jobs.runbook.pipeline import deploy, pass_gates
from jobs.state.held import WINDOW_WAKE_KEY, held_ids, release_held, window_wakeups
from jobs.state.locks import current_owner
from jobs.state.records import Deploy, DeployStore
from jobs.state.submit import DeployRequest, Submitted, submit
from tests.gates.conftest import GatedSettings, log_of, queued
from tests.support.provider_server import GITHUB, WEBHOOK, ProviderServer
from tests.support.report_setup import SHA


def _day_after_tomorrow() -> tuple[str, datetime]:
    """A whole-day window in UTC two days from now, and the moment it opens."""
    opens = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return DAYS[opens.weekday()], opens


def _held_deploy(store: DeployStore, gated: GatedSettings) -> tuple[Settings, Deploy, datetime]:
    """Settings with a window two days away, and a deploy it held: (settings, deploy, opens)."""
    day, opens = _day_after_tomorrow()
    settings = gated(windows=[{"days": [day]}])
    record = queued(store)
    assert deploy(record.id, settings, store.redis) == "queued"
    return settings, record, opens


def _queued_jobs(connection: redis.Redis) -> list[str]:
    return Queue("deploys.local", connection=connection).get_job_ids()


def test_a_deploy_outside_its_window_is_held_and_listed(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """Held: still queued, on the held list, with what it waits for and when it wakes."""
    day, opens = _day_after_tomorrow()
    settings = gated(windows=[{"days": [day]}])
    record = queued(store)
    assert deploy(record.id, settings, redis_conn) == "queued"
    after = store.get(record.id)
    assert after.stages == [] and current_owner(redis_conn, "crm/prod") is None
    assert after.waiting_for is not None
    assert after.waiting_for.startswith(f"the deploy window ({day} 00:00-24:00 UTC), opens ")
    assert held_ids(redis_conn, "crm/prod") == [record.id]
    assert window_wakeups(redis_conn) == {"crm/prod": opens.timestamp()}
    assert any("held: outside the deploy windows" in line for line in store.log(record.id))


def test_the_waker_queues_held_deploys_when_the_window_opens(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """Before the opening nothing moves; at it, the held deploy is queued again, once."""
    settings, record, opens = _held_deploy(store, gated)
    assert wake_due(redis_conn, settings, now=opens.timestamp() - 60) == []
    assert _queued_jobs(redis_conn) == []
    assert wake_due(redis_conn, settings, now=opens.timestamp()) == [record.id]
    assert _queued_jobs(redis_conn) == [record.id]
    assert held_ids(redis_conn, "crm/prod") == [] and window_wakeups(redis_conn) == {}
    assert wake_due(redis_conn, settings, now=opens.timestamp() + 60) == []


def test_the_worker_thread_wakes_them(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """The worker's waker thread does the same on its own, every few seconds."""
    settings, record, _opens = _held_deploy(store, gated)
    redis_conn.zadd(WINDOW_WAKE_KEY, {"crm/prod": time.time() - 1})
    stop = start_window_waker(settings, redis_conn, every=0.05)
    try:
        deadline = time.monotonic() + 10
        while not _queued_jobs(redis_conn) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop()
    assert _queued_jobs(redis_conn) == [record.id]


def test_an_unlock_meanwhile_holds_it_again(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """An operator's unlock queues held deploys; still outside the window, it is held again."""
    settings, record, _opens = _held_deploy(store, gated)
    assert release_held(redis_conn, settings, "crm/prod") == [record.id]
    assert deploy(record.id, settings, redis_conn) == "queued"
    assert held_ids(redis_conn, "crm/prod") == [record.id]


def test_inside_the_window_it_goes_on(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """A window that is open now lets the deploy through."""
    today = DAYS[datetime.now(UTC).weekday()]
    tomorrow = DAYS[(datetime.now(UTC).weekday() + 1) % 7]
    settings = gated(windows=[{"days": [today, tomorrow]}])
    record = queued(store)
    assert pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)


def test_a_manual_override_passes_the_window(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """--force REASON starts it outside the window, with the reason on the record."""
    day, _opens = _day_after_tomorrow()
    settings = gated(windows=[{"days": [day]}])
    result = submit(redis_conn, settings, [DeployRequest(
        "crm", "prod", "tag", "v1.4.0", SHA, "manual", sender="alice",
        override_reason="database fix cannot wait",
    )])  # fmt: skip
    assert isinstance(result, Submitted)
    record = result.deploys[0]
    assert pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    assert store.get(record.id).override_reason == "database fix cannot wait"
    assert held_ids(redis_conn, "crm/prod") == []


def test_once_the_window_is_open_the_held_deploy_goes_on_without_its_note(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """Queued again inside a window, the deploy passes and no longer says it is waiting."""
    _settings, record, _opens = _held_deploy(store, gated)
    open_now = gated(windows=[{"days": list(DAYS)}])
    again = store.get(record.id)
    assert again.waiting_for is not None
    assert pass_gates(redis_conn, open_now, again, log_of(store, again), lambda: False)
    assert store.get(record.id).waiting_for is None


def test_reports_say_what_a_held_deploy_waits_for(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """GitHub's pending status names the window the deploy waits for, and the JSON webhook too."""
    settings, _record, _opens = _held_deploy(store, gated)
    drain(settings, redis_conn, timeout=20)
    statuses = [seen.body for seen in provider.to(f"{GITHUB}/repos/acme/crm/statuses/{SHA}")]
    assert [status["state"] for status in statuses] == ["pending", "pending"]
    assert statuses[0]["description"] == "queued for prod"
    assert statuses[1]["description"].startswith("waiting for the deploy window (")
    event = provider.to(WEBHOOK)[-1].body
    assert event["event"] == "queued" and event["deploy"]["deployed"] is False
    assert event["deploy"]["waiting_for"].startswith("the deploy window (")
