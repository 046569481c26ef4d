"""Signature and token checks over the raw body, in constant time, failing closed.

Each check raises `Unauthorized` with a message that names the failed check in general terms
and never shows the expected value. They are pure functions of (secret, headers, body).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time

from werkzeug.datastructures import Headers

from webhook.errors import Unauthorized

TOLERANCE_SECONDS = 5 * 60
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_MAX_SIGNATURES = 16


def hex_hmac(secret: str | bytes, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_github(secret: str, headers: Headers, body: bytes) -> None:
    """`X-Hub-Signature-256: sha256=<hex>`; the SHA-1 header alone is refused."""
    header = headers.get("X-Hub-Signature-256", "")
    if not header:
        if headers.get("X-Hub-Signature"):
            raise Unauthorized("SHA-1 signatures are not accepted: X-Hub-Signature-256 required")
        raise Unauthorized("missing X-Hub-Signature-256 header: set a secret on the webhook")
    scheme, _, digest = header.partition("=")
    if scheme != "sha256" or not _HEX_SHA256.fullmatch(digest):
        raise Unauthorized("malformed X-Hub-Signature-256 header: expected sha256=<64 hex>")
    if not hmac.compare_digest(digest.lower(), hex_hmac(secret, body)):
        raise Unauthorized("signature does not match: check the webhook secret")


def verify_gitea(secret: str, headers: Headers, body: bytes) -> None:
    """`X-Gitea-Signature: <hex>` (or X-Forgejo-Signature); empty means the hook is unsigned."""
    header = headers.get("X-Gitea-Signature") or headers.get("X-Forgejo-Signature") or ""
    if not header:
        raise Unauthorized("unsigned delivery: set a secret on the webhook")
    if not _HEX_SHA256.fullmatch(header):
        raise Unauthorized("malformed X-Gitea-Signature header: expected 64 hex digits")
    if not hmac.compare_digest(header.lower(), hex_hmac(secret, body)):
        raise Unauthorized("signature does not match: check the webhook secret")


def verify_gitlab_token(secret: str, headers: Headers) -> None:
    """`X-Gitlab-Token` holds the secret itself; compare it in constant time."""
    token = headers.get("X-Gitlab-Token", "")
    if not token:
        raise Unauthorized("missing X-Gitlab-Token header: set a secret token on the webhook")
    if not hmac.compare_digest(token.encode(), secret.encode()):
        raise Unauthorized("X-Gitlab-Token does not match: check the webhook secret token")


def signing_key_bytes(signing_key: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` Standard Webhooks key; ValueError if malformed."""
    encoded = signing_key.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("the signing key after whsec_ is not valid base64") from None
    if not key:
        raise ValueError("the signing key after whsec_ is empty")
    return key


def standard_signature(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_standard_webhooks(
    key: bytes, headers: Headers, body: bytes, now: float | None = None
) -> None:
    """Standard Webhooks: `webhook-id`, `webhook-timestamp` (+-5 min), `webhook-signature`."""
    message_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (message_id and timestamp and signatures):
        raise Unauthorized(
            "missing webhook-id, webhook-timestamp or webhook-signature header: "
            "this project requires GitLab's signing key"
        )
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise Unauthorized("malformed webhook-timestamp header: expected Unix seconds")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > TOLERANCE_SECONDS:
        raise Unauthorized("webhook-timestamp is more than 5 minutes from the server's clock")
    expected = standard_signature(key, message_id, timestamp, body).encode()
    offered = signatures.split(" ")[:_MAX_SIGNATURES]
    if not any(hmac.compare_digest(item.encode(), expected) for item in offered if item):
        raise Unauthorized("webhook-signature does not match: check the signing key")
