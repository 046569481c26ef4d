"""Apprise notifications (`notify.apprise`) to loopback stand-ins: json:// and ntfy://."""

from __future__ import annotations

import logging
import socket

import pytest
import redis
from werkzeug import Response

from jobs.report import drain
from jobs.report.apprise_notify import note_for
from jobs.state.records import DeployStore
from tests.support.provider_server import ProviderServer
from tests.support.report_setup import PREVIOUS, new_deploy, queue_deploy, settings_for

JSON_PATH = "/apprise/json-hook-secret-part"
TOPIC = "deploys-topic-secret-part"
NO_OTHERS = {"github": None, "gitlab": None, "gitea": None, "slack": None, "webhook": None}


def _urls(provider: ProviderServer) -> list[str]:
    port = provider.server.port
    return [f"json://127.0.0.1:{port}{JSON_PATH}", f"ntfy://127.0.0.1:{port}/{TOPIC}"]


def _reverted(store: DeployStore) -> str:
    deploy = queue_deploy(store, "crm")
    store.transition(deploy, "running", previous_sha=PREVIOUS)
    store.transition(
        deploy, "reverted", failed_stage="migrate", error="alembic: relation users exists"
    )
    return deploy.id


def test_apprise_urls_get_the_deploy_outcome(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A reverted deploy reaches both the json:// and the ntfy:// stand-in, with its cause."""
    settings = settings_for(provider, **NO_OTHERS, apprise=_urls(provider))
    deploy_id = _reverted(store)
    drain(settings, redis_conn, timeout=20)
    assert store.reporting_problems(deploy_id) == []
    (posted,) = provider.to(JSON_PATH)
    assert posted.body["title"] == "Deploy to crm → prod failed and was reverted"
    assert "migrate failed" in posted.body["message"]
    assert "alembic: relation users exists" in posted.body["message"]
    assert f"/deploys/{deploy_id}" in posted.body["message"]
    assert posted.body["type"] == "failure"
    (pushed,) = [s for s in provider.seen if isinstance(s.body, dict) and s.body.get("topic")]
    assert pushed.body["topic"] == TOPIC
    assert pushed.body["title"] == posted.body["title"]


def test_failing_apprise_url_is_retried_recorded_and_never_changes_the_deploy(
    redis_conn: redis.Redis,
    provider: ProviderServer,
    store: DeployStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A URL that keeps failing is tried 3 times, recorded without its secret; others still go."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    dead = f"json://127.0.0.1:{closed}/apprise/dead-hook-secret-part"
    failing = [Response("boom", status=500)] * 5
    provider.script(JSON_PATH, *failing)
    settings = settings_for(provider, **NO_OTHERS, apprise=[*_urls(provider), dead])
    deploy_id = _reverted(store)
    before = store.get(deploy_id)
    with caplog.at_level(logging.DEBUG):
        drain(settings, redis_conn, timeout=30)
    assert len(provider.to(JSON_PATH)) == 3  # notify.delivery.attempts in the test settings
    (problem,) = store.reporting_problems(deploy_id)
    assert problem.startswith("reverted: Apprise URL 1 (json, reverted): gave up after 3 attempts")
    assert "Apprise URL 3 (json, reverted): gave up after 3 attempts" in problem
    assert "Apprise URL 2" not in problem  # ntfy got it
    assert store.get(deploy_id) == before
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    for secret in ("json-hook-secret-part", "dead-hook-secret-part", TOPIC):
        assert secret not in logs and secret not in problem


def test_unknown_apprise_scheme_is_a_problem_not_a_crash(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A URL Apprise does not understand is recorded once as a problem naming only its scheme."""
    settings = settings_for(provider, **NO_OTHERS, apprise=["nosuchservice://token-secret-part"])
    deploy_id = _reverted(store)
    drain(settings, redis_conn, timeout=20)
    (problem,) = store.reporting_problems(deploy_id)
    assert "nosuchservice" in problem and "not a URL Apprise understands" in problem
    assert "token-secret-part" not in problem


def test_apprise_note_skips_running_and_names_the_stage_once(provider: ProviderServer) -> None:
    """No notification while running; a failure's text names the failed stage exactly once."""
    settings = settings_for(provider, **NO_OTHERS)
    assert note_for(settings, new_deploy(state="running")) is None
    failed = new_deploy(state="failed", failed_stage="build", error="build failed: exit 2")
    note = note_for(settings, failed)
    assert note is not None
    assert note.body.count("build failed") == 1, note.body


@pytest.mark.parametrize(
    "state",
    ["succeeded", "failed", "reverted", "revert_failed", "cancelled", "blocked", "interrupted"],
)
def test_apprise_note_exists_for_every_final_state_told(
    provider: ProviderServer, state: str
) -> None:
    """Every state Slack is told about has an Apprise title too (none raises KeyError)."""
    note = note_for(settings_for(provider, **NO_OTHERS), new_deploy(state=state))
    assert note is not None and note.title and note.body
