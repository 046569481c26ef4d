"""Providers that are down, slow, failing or refusing: reports retry within bounds, record what
they could not deliver, never leak a token, and never touch the deploy."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
import redis
from werkzeug import Request, Response

from jobs.report import drain, start_background
from jobs.state.records import DeployStore
from tests.support.provider_server import GITHUB, GITLAB, SLACK, ProviderServer, json_response
from tests.support.report_setup import (
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    PREVIOUS,
    SHA,
    queue_deploy,
    settings_for,
)

STATUSES = f"{GITHUB}/repos/acme/crm/statuses/{SHA}"
SECRETS = (GITHUB_TOKEN, GITLAB_TOKEN, SLACK.rsplit("/", 2)[-1])


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _succeed(store: DeployStore, project: str = "crm") -> str:
    deploy = queue_deploy(store, project)
    store.transition(deploy, "running", previous_sha=PREVIOUS)
    store.transition(deploy, "succeeded")
    return deploy.id


def _our_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line of this process except the stand-in provider's own access log."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_provider_down_is_recorded_and_the_deploy_is_untouched(
    redis_conn: redis.Redis,
    provider: ProviderServer,
    store: DeployStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Connection refused is retried, then recorded as a problem; the record stays as it was."""
    down = f"http://127.0.0.1:{_closed_port()}"
    settings = settings_for(
        provider, github={"token": GITHUB_TOKEN, "api_url": down}, slack=None, webhook=None
    )
    deploy_id = _succeed(store)
    before = store.get(deploy_id)
    with caplog.at_level(logging.INFO):
        drain(settings, redis_conn, timeout=20)
    problems = store.reporting_problems(deploy_id)
    assert problems == [
        "succeeded: GitHub commit status success for 1f2e3d4: gave up after 3 attempts: "
        "could not connect (ConnectionError)",
        "succeeded: GitHub deployment for 1f2e3d4: gave up after 3 attempts: "
        "could not connect (ConnectionError)",
    ]
    assert store.get(deploy_id) == before
    _assert_no_secret(_our_logs(caplog), *problems)


def test_server_error_then_success_is_retried(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A 500 is retried and the second attempt's success leaves no problem behind."""
    provider.script(STATUSES, json_response({"message": "Server Error"}, 500))
    deploy_id = _succeed(store)
    drain(settings_for(provider), redis_conn, timeout=10)
    assert [seen.body["state"] for seen in provider.to(STATUSES)] == ["success", "success"]
    assert store.reporting_problems(deploy_id) == []


def test_retry_after_is_honoured(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A 429 with Retry-After: 1 makes the next attempt wait a second (backoff alone is 10 ms)."""
    provider.script(SLACK, Response("rate_limited", status=429, headers={"Retry-After": "1"}))
    deploy_id = _succeed(store)
    drain(settings_for(provider), redis_conn, timeout=10)
    first, second = provider.to(SLACK)
    assert second.at - first.at >= 1.0
    assert second.body == first.body
    assert store.reporting_problems(deploy_id) == []


def test_github_rate_limit_reset_is_honoured(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A 403 with x-ratelimit-remaining: 0 is a rate limit: wait for the reset, then retry."""
    reset = str(int(time.time()) + 1)
    limited = json_response(
        {"message": "API rate limit exceeded"},
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
    )
    provider.script(STATUSES, limited)
    deploy_id = _succeed(store)
    drain(settings_for(provider), redis_conn, timeout=10)
    first, second = provider.to(STATUSES)
    assert second.at - first.at >= 1.0
    assert store.reporting_problems(deploy_id) == []


def test_a_wait_longer_than_the_budget_gives_up_at_once(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """Retry-After beyond give_up_after ends the attempts now instead of sleeping past it."""
    provider.script(SLACK, Response("rate_limited", status=429, headers={"Retry-After": "3600"}))
    deploy_id = _succeed(store)
    drain(settings_for(provider), redis_conn, timeout=10)
    assert len(provider.to(SLACK)) == 1
    assert store.reporting_problems(deploy_id) == [
        "succeeded: Slack message (succeeded): gave up after 1 attempt: HTTP 429 (rate_limited)"
    ]


def test_unauthorized_is_not_retried_and_is_recorded_without_the_token(
    redis_conn: redis.Redis,
    provider: ProviderServer,
    store: DeployStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 401 is sent once, recorded with GitHub's message, and no log or problem shows a token."""
    provider.script(STATUSES, json_response({"message": "Bad credentials"}, 401))
    deploy_id = _succeed(store)
    with caplog.at_level(logging.DEBUG):
        drain(settings_for(provider), redis_conn, timeout=10)
    assert len(provider.to(STATUSES)) == 1
    problems = store.reporting_problems(deploy_id)
    assert problems == [
        "succeeded: GitHub commit status success for 1f2e3d4: rejected with HTTP 401 "
        "(Bad credentials); check the token"
    ]
    assert "Bad credentials" in caplog.text
    _assert_no_secret(_our_logs(caplog), *problems)


def test_slack_errors_are_recorded_without_the_webhook_url(
    redis_conn: redis.Redis,
    provider: ProviderServer,
    store: DeployStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slack's 404 `no_service` is permanent: one attempt, a problem naming it, no URL shown."""
    provider.script(SLACK, Response("no_service", status=404))
    deploy_id = _succeed(store)
    with caplog.at_level(logging.DEBUG):
        drain(settings_for(provider), redis_conn, timeout=10)
    assert len(provider.to(SLACK)) == 1
    problems = store.reporting_problems(deploy_id)
    assert len(problems) == 1
    assert "Slack message (succeeded): rejected with HTTP 404 (no_service)" in problems[0]
    _assert_no_secret(_our_logs(caplog), *problems)


def test_gitlab_same_state_400_counts_as_done(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """GitLab's 400 `Cannot transition status` for a repeated state is done, not a problem."""
    provider.script(
        f"{GITLAB}/projects/",
        json_response({"message": "Cannot transition status via :run from :running"}, 400),
    )
    deploy = queue_deploy(store, "shop")
    store.transition(deploy, "running", previous_sha=PREVIOUS)
    drain(settings_for(provider), redis_conn, timeout=10)
    assert [seen.body["state"] for seen in provider.to(GITLAB)] == ["pending", "running"]
    assert store.reporting_problems(deploy.id) == []


def test_other_gitlab_400s_are_problems(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A GitLab 400 for anything but a repeated state is recorded, not swallowed."""
    provider.script(f"{GITLAB}/projects/", json_response({"message": "state is invalid"}, 400))
    deploy_id = _succeed(store, "shop")
    drain(settings_for(provider), redis_conn, timeout=10)
    assert store.reporting_problems(deploy_id) == [
        "succeeded: GitLab commit status success for 1f2e3d4: rejected with HTTP 400 "
        "(state is invalid); the request was not accepted; see the message"
    ]


def test_a_slow_provider_never_holds_up_the_deploy(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """While Slack hangs on a request, the deploy's own state changes still complete."""
    settings = settings_for(
        provider, slack={"webhook_url": provider.url(SLACK), "notify_start": True}
    )
    answered = threading.Event()
    arrived = threading.Event()

    def hang(_request: Request) -> Response:
        arrived.set()
        answered.wait(timeout=20)
        return Response("ok")

    provider.script(SLACK, hang)
    stop = start_background(settings, redis_conn)
    try:
        deploy = queue_deploy(store)
        store.transition(deploy, "running", previous_sha=PREVIOUS)
        assert arrived.wait(timeout=10), "the start message never reached Slack"
        # Slack is still holding the start message: the deploy goes on regardless.
        store.transition(deploy, "succeeded")
        assert store.get(deploy.id).state == "succeeded"
        assert not answered.is_set()
        assert len(provider.to(SLACK)) == 1
    finally:
        answered.set()
        stop(10)
    assert [seen.body["text"][:20] for seen in provider.to(SLACK)] == [
        ":rocket: Deploying c",
        ":white_check_mark: D",
    ]
    assert store.reporting_problems(deploy.id) == []
