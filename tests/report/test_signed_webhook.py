"""The outgoing JSON webhook is signed as Standard Webhooks and goes to https:// only."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from pydantic import ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from config.model import WebhookNotify
from jobs.report import drain
from jobs.state.records import DeployStore
from tests.support.provider_server import WEBHOOK, ProviderServer
from tests.support.report_setup import WEBHOOK_KEY, queue_deploy, settings_for


def test_every_json_webhook_request_verifies_with_the_reference_library(
    redis_conn: redis.Redis, provider: ProviderServer
) -> None:
    """Each request carries webhook-id/-timestamp/-signature that the PyPI standardwebhooks
    package verifies over the raw body; one id per state change; a changed body fails."""
    settings = settings_for(provider)
    store = DeployStore(redis_conn)
    deploy = queue_deploy(store, "crm")
    drain(settings, redis_conn, timeout=10)
    store.transition(deploy, "running")
    drain(settings, redis_conn, timeout=10)
    seen = provider.to(WEBHOOK)
    assert [request.body["event"] for request in seen] == ["queued", "running"]
    receiver = Webhook(WEBHOOK_KEY)
    for request in seen:
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert receiver.verify(request.raw, headers) == request.body
        assert headers["webhook-signature"].startswith("v1,")
        assert headers["content-type"] == "application/json"
    ids = [request.headers["Webhook-Id"] for request in seen]
    assert ids == [f"msg_{deploy.id}_queued", f"msg_{deploy.id}_running"]
    tampered = seen[0].raw.replace(b'"queued"', b'"succeeded"')
    headers = {name.lower(): value for name, value in seen[0].headers.items()}
    with pytest.raises(WebhookVerificationError):
        receiver.verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY").verify(seen[0].raw, headers)


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"url": "http://hooks.example.com/x", "secret": WEBHOOK_KEY}, "must be https://"),
        ({"url": "ftp://hooks.example.com/x", "secret": WEBHOOK_KEY, "allow_http": True}, "https"),
        ({"url": "https://hooks.example.com/x"}, "secret"),
        ({"url": "https://hooks.example.com/x", "secret": "hunter2hunter2hunter2"}, "whsec_"),
        ({"url": "https://hooks.example.com/x", "secret": "whsec_c2hvcnQ="}, "24 to 64"),
        ({"url": "https://hooks.example.com/x", "secret": "whsec_!!notbase64!!"}, "whsec_"),
    ],
)
def test_webhook_config_refuses_plain_http_and_weak_keys(
    config: dict[str, Any], words: str
) -> None:
    """http:// needs allow_http; the key must be a whsec_ key of 24 to 64 bytes."""
    with pytest.raises(ValidationError) as caught:
        WebhookNotify.model_validate(config)
    assert words in str(caught.value)


def test_webhook_config_takes_https_or_allowed_http() -> None:
    """https:// with a key is fine; http:// only with allow_http."""
    WebhookNotify.model_validate({"url": "https://hooks.example.com/x", "secret": WEBHOOK_KEY})
    allowed = {"url": "http://127.0.0.1:9/x", "secret": WEBHOOK_KEY, "allow_http": True}
    assert WebhookNotify.model_validate(allowed).allow_http
