"""The consumer: order per deploy, stale snapshots skipped, one consumer per deploy at a time,
nothing lost when a deploy is busy or a consumer died, and the worker runs it alongside."""

from __future__ import annotations

import threading
import time
from collections import Counter

import redis
from werkzeug import Request, Response

from jobs.report import drain, start_background
from jobs.report.dispatcher import Dispatcher
from jobs.state.records import REPORTS_PENDING_KEY, DeployStore, events_key
from jobs.state.reports import cursor_key, lock_key
from jobs.worker.start import run_worker
from tests.support.provider_server import GITHUB, SLACK, WEBHOOK, ProviderServer
from tests.support.report_setup import PREVIOUS, SHA, queue_deploy, settings_for

STATUSES = f"{GITHUB}/repos/acme/crm/statuses/{SHA}"


def _events(provider: ProviderServer, deploy_id: str) -> list[str]:
    return [
        seen.body["event"]
        for seen in provider.to(WEBHOOK)
        if seen.body["deploy"]["id"] == deploy_id
    ]


def _succeed(store: DeployStore) -> str:
    deploy = queue_deploy(store)
    store.transition(deploy, "running", previous_sha=PREVIOUS)
    store.transition(deploy, "succeeded")
    return deploy.id


def test_a_late_pending_never_overwrites_success(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """When reporting catches up after the deploy finished, only the final state is sent."""
    deploy_id = _succeed(store)
    drain(settings_for(provider), redis_conn, timeout=10)
    assert [seen.body["state"] for seen in provider.to(STATUSES)] == ["success"]
    deployment_states = [seen.body.get("state") for seen in provider.to(f"{GITHUB}/repos")]
    assert deployment_states == ["success", None, "success"]  # status, create, deployment status
    assert _events(provider, deploy_id) == ["succeeded"]
    # A stray pending entry for the same deploy later on sends nothing more.
    redis_conn.rpush(REPORTS_PENDING_KEY, deploy_id)
    drain(settings_for(provider), redis_conn, timeout=10)
    assert len(provider.to(STATUSES)) == 1


def test_events_are_reported_in_order_while_the_deploy_runs(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """With the consumer running, each deploy's webhook events arrive in state order."""
    stop = start_background(settings_for(provider), redis_conn)
    try:
        ids = [_succeed(store) for _ in range(5)]
    finally:
        stop(15)
    for deploy_id in ids:
        events = _events(provider, deploy_id)
        assert events[-1] == "succeeded"
        assert events == [state for state in ("queued", "running", "succeeded") if state in events]


def test_two_consumers_never_report_one_deploy_at_the_same_time(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """Two consumers share the work; no deploy has two requests in flight, none is doubled."""
    in_flight: Counter[str] = Counter()
    overlaps: list[str] = []
    guard = threading.Lock()

    def slow_hook(request: Request) -> Response:
        deploy_id = request.get_json()["deploy"]["id"]
        with guard:
            in_flight[deploy_id] += 1
            if in_flight[deploy_id] > 1:
                overlaps.append(deploy_id)
        time.sleep(0.02)
        with guard:
            in_flight[deploy_id] -= 1
        return Response("", status=204)

    provider.script(WEBHOOK, *[slow_hook] * 100)
    settings = settings_for(provider, github=None, slack=None)
    ids = []
    for _ in range(8):
        deploy = queue_deploy(store)
        store.transition(deploy, "running", previous_sha=PREVIOUS)
        ids.append(deploy.id)
    first = start_background(settings, redis_conn)
    second = start_background(settings, redis_conn)
    try:
        for deploy_id in ids:
            store.transition(store.get(deploy_id), "succeeded")
    finally:
        first(15)
        second(15)
    assert overlaps == []
    for deploy_id in ids:
        events = _events(provider, deploy_id)
        assert len(events) == len(set(events))
        assert events[-1] == "succeeded"


def test_a_busy_deploy_is_handed_back_not_lost(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """While another consumer holds a deploy's lock, its id goes back on the pending list."""
    deploy_id = _succeed(store)
    redis_conn.set(lock_key(deploy_id), "another-consumer", px=60_000)
    drain(settings_for(provider), redis_conn, timeout=0.5)
    assert provider.seen == []
    assert deploy_id.encode() in redis_conn.lrange(REPORTS_PENDING_KEY, 0, -1)
    redis_conn.delete(lock_key(deploy_id))
    drain(settings_for(provider), redis_conn, timeout=10)
    assert _events(provider, deploy_id) == ["succeeded"]


def test_a_dead_consumers_deploy_is_found_again(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A deploy whose reporting stopped midway (id taken, consumer gone) is queued again."""
    deploy = queue_deploy(store)
    store.transition(deploy, "running", previous_sha=PREVIOUS)
    redis_conn.delete(REPORTS_PENDING_KEY)  # a consumer took the ids and died
    redis_conn.set(cursor_key(deploy.id), 1)  # after reporting `queued`
    dispatcher = Dispatcher(settings_for(provider), redis_conn)
    assert dispatcher.requeue_unfinished() == 1
    drain(settings_for(provider), redis_conn, timeout=10)
    assert _events(provider, deploy.id) == ["running"]


def test_deploys_of_unconfigured_projects_and_garbage_entries_are_skipped(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """An id that is no deploy id, or a project removed from the config, is passed over."""
    deploy = queue_deploy(store, project="gone")
    store.transition(deploy, "cancelled")
    redis_conn.rpush(REPORTS_PENDING_KEY, "not-a-deploy-id")
    assert drain(settings_for(provider), redis_conn, timeout=10) == 3
    assert provider.seen == []
    assert redis_conn.llen(REPORTS_PENDING_KEY) == 0


def test_a_deployment_without_an_id_is_a_problem_and_statuses_still_go_out(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """GitHub's 201 without a deployment id is recorded; the commit status is still posted."""
    provider.script(f"{GITHUB}/repos/acme/crm/deployments", Response("{}", status=201))
    deploy_id = _succeed(store)
    drain(settings_for(provider), redis_conn, timeout=10)
    assert [seen.body["state"] for seen in provider.to(STATUSES)] == ["success"]
    assert store.reporting_problems(deploy_id) == [
        "succeeded: GitHub deployment for 1f2e3d4: expected a deployment id in GitHub's "
        "answer, got none"
    ]
    assert len(provider.to(SLACK)) == 1


def test_the_worker_reports_beside_its_deploys(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """run_worker starts the consumer and, on stopping, flushes what is pending."""
    deploy_id = _succeed(store)
    run_worker(settings_for(provider), redis_conn, burst=True)
    assert _events(provider, deploy_id) == ["succeeded"]
    assert redis_conn.llen(REPORTS_PENDING_KEY) == 0


def test_an_unreadable_snapshot_is_skipped_and_the_rest_reported(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A snapshot that is not a record is passed over; the ones after it are still reported."""
    deploy = queue_deploy(store)
    drain(settings_for(provider), redis_conn, timeout=10)
    redis_conn.rpush(events_key(deploy.id), b"{not json")
    store.transition(deploy, "running", previous_sha=PREVIOUS)
    drain(settings_for(provider), redis_conn, timeout=10)
    assert _events(provider, deploy.id) == ["queued", "running"]
    assert int(redis_conn.get(cursor_key(deploy.id)) or 0) == 3
