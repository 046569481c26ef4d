"""Signed GitHub pushes of a commit of their own per delivery, for drills that send many.

The commit is derived from the delivery id: pushes of one commit would be answered as
duplicates of the first (already queued), while a redelivery carries the same body.
"""

from __future__ import annotations

import hashlib

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.deliveries import encode, github_headers, payload


def push_body(delivery: str) -> bytes:
    data = payload("github-push.json")
    sha = hashlib.sha1(delivery.encode()).hexdigest()  # noqa: S324 - a commit id, not security
    data["after"] = sha
    data["head_commit"] = {**data["head_commit"], "id": sha}
    return encode(data)


def push_to(client: FlaskClient, delivery: str) -> TestResponse:
    """POST the delivery's push to project `crm` through a Flask test client."""
    body = push_body(delivery)
    return client.post("/hooks/crm", data=body, headers=github_headers(body, delivery=delivery))
