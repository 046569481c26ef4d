"""Signature and token checks: the providers' published vectors and every way to fail."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from werkzeug.datastructures import Headers

from webhook.errors import Unauthorized
from webhook.signatures import (
    hex_hmac,
    signing_key_bytes,
    standard_signature,
    verify_gitea,
    verify_github,
    verify_gitlab_token,
    verify_standard_webhooks,
)

GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_DIGEST = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
SW_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = "1614265330"
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _sw_headers(signature: str, timestamp: str = SW_TIMESTAMP, msg: str = SW_ID) -> Headers:
    return Headers(
        {"webhook-id": msg, "webhook-timestamp": timestamp, "webhook-signature": signature}
    )


def test_github_published_vector() -> None:
    """Our HMAC matches GitHub's documented example digest."""
    assert hex_hmac(GITHUB_SECRET, GITHUB_BODY) == GITHUB_DIGEST
    verify_github(
        GITHUB_SECRET, Headers({"X-Hub-Signature-256": f"sha256={GITHUB_DIGEST}"}), GITHUB_BODY
    )


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing X-Hub-Signature-256"),
        ({"X-Hub-Signature": "sha1=" + "0" * 40}, "SHA-1 signatures are not accepted"),
        ({"X-Hub-Signature-256": ""}, "missing X-Hub-Signature-256"),
        ({"X-Hub-Signature-256": GITHUB_DIGEST}, "malformed"),
        ({"X-Hub-Signature-256": "sha1=" + GITHUB_DIGEST}, "malformed"),
        ({"X-Hub-Signature-256": "sha256=" + GITHUB_DIGEST[:-1]}, "malformed"),
        ({"X-Hub-Signature-256": "sha256=" + "z" * 64}, "malformed"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "does not match"),
        ({"X-Hub-Signature-256": "sha256=" + GITHUB_DIGEST[::-1]}, "does not match"),
    ],
)
def test_github_refuses(headers: dict[str, str], message: str) -> None:
    """Missing, SHA-1-only, malformed and wrong GitHub signatures are all refused."""
    with pytest.raises(Unauthorized, match=message) as caught:
        verify_github(GITHUB_SECRET, Headers(headers), GITHUB_BODY)
    assert GITHUB_DIGEST not in caught.value.message


def test_github_signature_covers_every_byte() -> None:
    """A body changed by one byte after signing fails the check."""
    headers = Headers({"X-Hub-Signature-256": f"sha256={GITHUB_DIGEST}"})
    with pytest.raises(Unauthorized, match="does not match"):
        verify_github(GITHUB_SECRET, headers, GITHUB_BODY + b" ")


def test_gitea_signature_without_prefix() -> None:
    """Gitea's bare hex signature (and Forgejo's header) verify with the same HMAC."""
    verify_gitea(GITHUB_SECRET, Headers({"X-Gitea-Signature": GITHUB_DIGEST}), GITHUB_BODY)
    verify_gitea(GITHUB_SECRET, Headers({"X-Forgejo-Signature": GITHUB_DIGEST}), GITHUB_BODY)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "unsigned"),
        ({"X-Gitea-Signature": ""}, "unsigned"),
        ({"X-Gitea-Signature": f"sha256={GITHUB_DIGEST}"}, "malformed"),
        ({"X-Gitea-Signature": "0" * 64}, "does not match"),
    ],
)
def test_gitea_refuses(headers: dict[str, str], message: str) -> None:
    """An empty Gitea signature means unsigned; prefixed or wrong ones are refused."""
    with pytest.raises(Unauthorized, match=message):
        verify_gitea(GITHUB_SECRET, Headers(headers), GITHUB_BODY)


@pytest.mark.parametrize(
    ("token", "accepted"),
    [("s3cret-token", True), ("s3cret-tokeN", False), ("s3cret", False), ("", False)],
)
def test_gitlab_token(token: str, accepted: bool) -> None:
    """X-Gitlab-Token must equal the secret exactly; a missing token is refused."""
    headers = Headers({"X-Gitlab-Token": token} if token else {})
    if accepted:
        verify_gitlab_token("s3cret-token", headers)
    else:
        with pytest.raises(Unauthorized, match="X-Gitlab-Token"):
            verify_gitlab_token("s3cret-token", headers)


def test_standard_webhooks_published_vector() -> None:
    """Our Standard Webhooks signature equals the specification's example."""
    key = signing_key_bytes(SW_KEY)
    assert standard_signature(key, SW_ID, SW_TIMESTAMP, SW_BODY) == SW_SIGNATURE
    now = float(SW_TIMESTAMP) + 10
    verify_standard_webhooks(key, _sw_headers(SW_SIGNATURE), SW_BODY, now=now)
    # Several signatures (key rotation): one valid entry is enough.
    rotated = _sw_headers(f"v1,{base64.b64encode(b'x' * 32).decode()} {SW_SIGNATURE}")
    verify_standard_webhooks(key, rotated, SW_BODY, now=now)


def test_standard_webhooks_reference_library_signatures() -> None:
    """Signatures made by the independent standardwebhooks package verify here."""
    key = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    when = datetime.now(UTC)
    body = b'{"object_kind":"push","ref":"refs/heads/main","note":"caf\xc3\xa9"}'
    signature = Webhook(key).sign("msg_2Qh8", when, body.decode())
    headers = _sw_headers(signature, str(int(when.timestamp())), "msg_2Qh8")
    verify_standard_webhooks(signing_key_bytes(key), headers, body)
    # And the reference library accepts what we compute.
    ours = standard_signature(signing_key_bytes(key), "msg_2Qh8", str(int(when.timestamp())), body)
    Webhook(key).verify(
        body.decode(),
        {
            "webhook-id": "msg_2Qh8",
            "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": ours,
        },
    )


@pytest.mark.parametrize(
    ("headers", "now_offset", "message"),
    [
        (_sw_headers(SW_SIGNATURE), 301, "5 minutes"),
        (_sw_headers(SW_SIGNATURE), -301, "5 minutes"),
        (_sw_headers("v1,AAAA" + SW_SIGNATURE[7:]), 0, "does not match"),
        (_sw_headers("v2," + SW_SIGNATURE[3:]), 0, "does not match"),
        (_sw_headers(SW_SIGNATURE[3:]), 0, "does not match"),
        (_sw_headers("v1,not base64 at all ,,, "), 0, "does not match"),
        (_sw_headers(SW_SIGNATURE, msg="msg_other"), 0, "does not match"),
        (_sw_headers(SW_SIGNATURE, timestamp="1614265331"), 0, "does not match"),
        (_sw_headers(SW_SIGNATURE, timestamp="16142653.0"), 0, "malformed webhook-timestamp"),
        (_sw_headers(SW_SIGNATURE, timestamp="-1614265330"), 0, "malformed webhook-timestamp"),
        (_sw_headers(SW_SIGNATURE, timestamp="9" * 40), 0, "malformed webhook-timestamp"),
        (_sw_headers(SW_SIGNATURE, timestamp="١٦١٤٢٦٥٣٣٠"), 0, "malformed webhook-timestamp"),
        (Headers({"webhook-id": SW_ID, "webhook-timestamp": SW_TIMESTAMP}), 0, "missing"),
        (Headers({"webhook-signature": SW_SIGNATURE}), 0, "missing"),
    ],
)
def test_standard_webhooks_refuses(headers: Headers, now_offset: int, message: str) -> None:
    """Stale, future, wrong, malformed and missing Standard Webhooks headers are all 401s."""
    key = signing_key_bytes(SW_KEY)
    now = float(SW_TIMESTAMP) + now_offset
    with pytest.raises(Unauthorized, match=message) as caught:
        verify_standard_webhooks(key, headers, SW_BODY, now=now)
    assert SW_SIGNATURE[3:] not in caught.value.message


@pytest.mark.parametrize("key", ["whsec_", "whsec_not*base64", "whsec_YWJ"])
def test_malformed_signing_key(key: str) -> None:
    """A signing key that is not base64 after whsec_ is reported, not used."""
    with pytest.raises(ValueError, match="signing key"):
        signing_key_bytes(key)
