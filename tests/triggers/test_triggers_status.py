"""The status page and API show each environment's triggers: next poll, paths, profiles."""

from __future__ import annotations

import redis

from jobs.state.keys import poll_state as poll_state_key
from tests.support.status import example_settings, set_json, status_app


def test_environment_card_shows_next_poll_paths_and_profiles(redis_conn: redis.Redis) -> None:
    """dev polls: the card shows its interval, next poll time and last result, paths, profiles."""
    set_json(
        redis_conn,
        poll_state_key("crm/dev"),
        {"last_at": "2026-11-27T10:00:00Z", "next_at": "2026-11-27T10:05:00Z",
         "result": "queued d-20261127-100000-abcdef for main at 0123456789ab",
         "seen": {"main": "0" * 40}},
    )  # fmt: skip
    client = status_app(redis_conn).test_client()
    page = client.get("/").get_data(as_text=True)
    dev = page[page.index('id="env-crm-dev"') : page.index('id="env-crm-prod"')]
    assert "every 300s" in dev and "2026-11-27" in dev and "10:05" in dev
    assert "queued d-20261127-100000-abcdef" in dev
    assert "<code>services/api/**</code>" in dev and "<code>workers</code>" in dev
    prod = page[page.index('id="env-crm-prod"') :]
    assert "Polling" not in prod and "Paths" not in prod
    api = client.get("/api/environments").get_json()["environments"]
    triggers = {e["target"]: e["triggers"] for e in api}
    assert triggers["crm/dev"]["poll"]["next_at"] == "2026-11-27T10:05:00Z"
    assert "seen" not in triggers["crm/dev"]["poll"]
    assert triggers["crm/prod"] == {
        "paths": None, "images": "build", "profiles": [], "poll": None,
    }  # fmt: skip


def test_card_before_the_first_poll(redis_conn: redis.Redis) -> None:
    """A polled environment never polled yet says so instead of showing a time."""
    page = status_app(redis_conn, example_settings()).test_client().get("/").get_data(as_text=True)
    assert "not polled yet" in page
