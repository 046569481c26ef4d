"""Gates on the status page, the API, the metrics and the CLI: the environment card shows its
gates and held deploys, a waiting deploy says what it waits for, a blocked one why."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from jobs.state.held import hold_for_window
from jobs.state.records import DeployStore
from tests.support.status import make_deploy, status_app
from webhook.operator.render import show_text


def test_the_environment_card_shows_gates_and_held_deploys(
    redis_conn: redis.Redis, store: DeployStore
) -> None:
    """The example's prod card names its promotion gate, window (open or shut) and hooks."""
    held = make_deploy(store, "prod", waiting_for="the deploy window (mon-fri 09:00-17:00 UTC)")

    hold_for_window(redis_conn, "crm/prod", held.id, datetime.now(UTC))
    client = status_app(redis_conn).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "promote from dev" in page
    assert "window mon,tue,wed,thu 09:00-16:00 Europe/Berlin: " in page
    assert ": open now" in page or ": shut, opens " in page
    assert "hooks (after health: 1)" in page
    assert f">{held.id}</a>" in page and "queued again on unlock or when the window opens" in page
    assert '<span class="warn">waiting</span> for the deploy window' in page
    prod = next(
        env for env in client.get("/api/environments").get_json()["environments"]
        if env["environment"] == "prod"
    )  # fmt: skip
    assert prod["held"] == [held.id]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'deployhook_held_deploys{environment="prod",project="crm"} 1.0' in metrics
    assert prod["gates"][0] == "promote from dev"


def test_a_blocked_deploy_shows_its_reason_everywhere(
    redis_conn: redis.Redis, store: DeployStore
) -> None:
    """Card, history filter, metrics and `deployhook show` all carry the blocked state."""
    reason = "commit 1f2e3d4c5b6a has not succeeded in dev (promote_from)"
    blocked = make_deploy(store, "prod", override_reason=None)
    store.transition(blocked, "blocked", error=reason, blocked_by="promote_from")
    client = status_app(redis_conn).test_client()
    assert f"not deployed: {reason}" in client.get("/").get_data(as_text=True)
    listed = client.get("/deploys?state=blocked").get_data(as_text=True)
    assert blocked.id in listed and "state-blocked" in listed
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'deployhook_deploys{environment="prod",project="crm",state="blocked"} 1.0' in metrics
    text = show_text(store.get(blocked.id), [], [])
    assert "blocked by  promote_from" in text and f"error       {reason}" in text


def test_an_override_is_shown(redis_conn: redis.Redis, store: DeployStore) -> None:
    """An operator's --force reason is on the card and in `deployhook show`."""
    forced = make_deploy(store, "prod", override_reason="hotfix for incident 42")
    page = status_app(redis_conn).test_client().get("/").get_data(as_text=True)
    assert "gates overridden: hotfix for incident 42" in page
    assert "overridden  hotfix for incident 42" in show_text(forced, [], [])


def test_the_deploy_page_says_blocked_by_and_waiting_for(
    redis_conn: redis.Redis, store: DeployStore
) -> None:
    """A blocked deploy's page names the gate; a waiting one what it waits for, live too."""
    waiting = make_deploy(store, "prod", waiting_for="CI checks: 0 of 1 done; waiting for ci")
    blocked = make_deploy(store, "prod")
    store.transition(
        blocked, "blocked", error="CI failed: failed: lint", blocked_by="wait_for_checks"
    )
    client = status_app(redis_conn).test_client()
    page = client.get(f"/deploys/{blocked.id}").get_data(as_text=True)
    assert "blocked by wait_for_checks</strong>" in page and "CI failed: failed: lint" in page
    page = client.get(f"/deploys/{waiting.id}").get_data(as_text=True)
    assert '<dd id="deploy-waiting">CI checks: 0 of 1 done; waiting for ci</dd>' in page
