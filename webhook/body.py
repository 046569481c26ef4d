"""Read the raw request body under a size limit, and decode it once it has been verified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import parse_qs

import gevent
from gevent import monkey

from webhook.errors import BadRequest, RequestTimeout, TooLarge

_CHUNK = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


def read_body(
    stream: IO[bytes], content_length: int | None, limit: int, timeout: float | None = None
) -> bytes:
    """The body's bytes exactly as sent; TooLarge as soon as it exceeds `limit`.

    The declared Content-Length is checked first, and the limit is enforced again while
    reading, because a chunked request declares no length at all. A body not complete within
    `timeout` seconds is RequestTimeout, so a client trickling bytes cannot hold a worker.
    """
    if content_length is not None and content_length > limit:
        raise TooLarge(f"body of {content_length} bytes exceeds the limit of {limit} bytes")
    with _deadline(timeout):
        return _read(stream, limit)


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the reads after `seconds`, under gunicorn's gevent workers (`deployhook serve`).

    Only a cooperative worker can interrupt a read that is waiting for bytes; a per-read
    socket timeout cannot, since a trickle of one byte a second never lets it expire. Other
    servers (the test client, a threaded dev server) read without a deadline.
    """
    if seconds is None or not monkey.is_module_patched("socket"):
        yield
        return
    problem = RequestTimeout(f"the body did not arrive within {seconds:g} seconds")
    with gevent.Timeout(seconds, problem):
        yield


def _read(stream: IO[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)


def decode_payload(body: bytes, mimetype: str) -> dict[str, Any]:
    """The JSON object of a JSON body or of a form body's `payload` field."""
    text: str | bytes = body
    if mimetype == FORM_TYPE:
        try:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=32)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("malformed form body") from None
        if "payload" not in fields:
            raise BadRequest("form body without a payload field")
        text = fields["payload"][0]
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("body is not a JSON object")
    return payload
