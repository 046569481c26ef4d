"""Web-facing paper cuts of issue 20: odd digits in numbers, a costly scrape, a slow remote."""

from __future__ import annotations

import time

import pytest
import redis

from jobs.state.records import DeployStore
from tests.support.status import make_deploy, status_app

SUPERSCRIPT_TWO = "\u00b2"  # "²": str.isdigit() says yes, int() says no


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (f"/api/deploys?limit={SUPERSCRIPT_TWO}", {}),
        (f"/deploys?limit={SUPERSCRIPT_TWO}", {}),
        (f"/api/deploys/{{deploy}}/log?start={SUPERSCRIPT_TWO}", {}),
        (f"/deploys/{{deploy}}/log/stream?start={SUPERSCRIPT_TWO}", {}),
        ("/deploys/{deploy}/log/stream", {"Last-Event-ID": SUPERSCRIPT_TWO}),
        ("/api/deploys?limit=\u0663", {}),  # Arabic-Indic three
    ],
)
def test_unicode_digits_are_a_clear_400(
    redis_conn: redis.Redis, path: str, headers: dict[str, str]
) -> None:
    """`limit`, `start` and Last-Event-ID in non-ASCII digits answer 400 naming the value."""
    deploy = make_deploy(DeployStore(redis_conn), "dev")
    answer = (
        status_app(redis_conn).test_client().get(path.format(deploy=deploy.id), headers=headers)
    )
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert "must be a whole number" in answer.get_data(as_text=True)


def _hits(connection: redis.Redis) -> int:
    return int(connection.info("stats")["keyspace_hits"])


def test_a_scrape_within_the_cache_window_reads_one_key(redis_conn: redis.Redis) -> None:
    """A second scrape soon after the first reads one key, not every deploy record again."""
    store = DeployStore(redis_conn)
    for _ in range(300):
        make_deploy(store, "dev", state="succeeded")
    client = status_app(redis_conn).test_client()
    first = client.get("/metrics").get_data()
    before = _hits(redis_conn)
    second = client.get("/metrics").get_data()
    assert _hits(redis_conn) - before <= 2  # the cached text (and nothing per deploy)
    assert second == first
    assert b'deployhook_deploys{environment="dev",project="crm",state="succeeded"} 300.0' in first


def test_the_kept_scrape_expires(redis_conn: redis.Redis) -> None:
    """Once the cache window has passed, a scrape counts the deploys made since."""
    app = status_app(redis_conn)
    app.config["METRICS_CACHE_SECONDS"] = 0.2
    client = app.test_client()
    make_deploy(DeployStore(redis_conn), "dev", state="failed")
    assert b'state="failed"} 1.0' in client.get("/metrics").get_data()
    make_deploy(DeployStore(redis_conn), "dev", state="failed")
    time.sleep(0.3)
    assert b'state="failed"} 2.0' in client.get("/metrics").get_data()
