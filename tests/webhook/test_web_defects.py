"""Web-facing paper cuts of issue 20: odd digits in numbers, a costly scrape, a slow remote."""

from __future__ import annotations

import threading
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


def test_metrics_on_their_own_address_need_no_identity(redis_conn: redis.Redis) -> None:
    """auth.metrics.bind serves /metrics (only) without identity on a second listener."""
    import requests

    from tests.support.status import example_settings
    from tests.support.web import free_port
    from webhook.status.metrics import metrics_listener

    settings = example_settings()
    bind = f"127.0.0.1:{free_port()}"
    metrics = settings.auth.metrics.model_copy(update={"bind": bind})
    settings = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"metrics": metrics})}
    )
    make_deploy(DeployStore(redis_conn), "dev", state="failed")
    server = metrics_listener(settings, redis_conn)
    assert server is not None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = requests.get(f"http://{bind}/metrics", timeout=10)
        assert answer.status_code == 200
        assert 'state="failed"} 1.0' in answer.text
        assert requests.get(f"http://{bind}/api/deploys", timeout=10).status_code == 404
    finally:
        server.shutdown()
        server.server_close()
    assert metrics_listener(example_settings(), redis_conn) is None


@pytest.mark.parametrize(
    ("bind", "refused"),
    [("127.0.0.1:8080", False), ("localhost:8080", False), ("[::1]:8080", False),
     ("0.0.0.0:8080", True), ("10.0.0.5:8080", True)],
)  # fmt: skip
def test_plain_http_cookies_only_on_loopback(bind: str, refused: bool) -> None:
    """secure_cookie: false is accepted for a loopback bind only, with a message saying why."""
    from config import ConfigError, parse_settings
    from tests.support.status import EXAMPLE

    text = EXAMPLE.read_text().replace("bind: 127.0.0.1:8080", f'bind: "{bind}"')
    text = text.replace("secure_cookie: true ", "secure_cookie: false")
    environ = {"CRM_WEBHOOK_SECRET": "x" * 20}
    if not refused:
        assert parse_settings(text, "test", environ).auth.sessions.secure_cookie is False
        return
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "test", environ)
    assert "secure_cookie: false is only for plain http on loopback" in str(caught.value)
