"""Refs, SHAs and ids are validated by a full match, and unencodable names never get stored."""

from __future__ import annotations

import pytest
import redis
from flask.testing import FlaskClient

from jobs.commands.git_names import is_sha, is_zero_sha, ref_name_problem
from jobs.state.records import DEPLOY_ID
from tests.support.deliveries import payload, post_github, queued_jobs
from webhook.providers import claimed_delivery_id

SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


@pytest.mark.parametrize(
    ("value", "valid"),
    [(SHA, True), ((SHA * 2)[:64], True), (SHA + "\n", False), (SHA + "\r\n", False),
     ("\n" + SHA, False), (SHA.upper(), False), (SHA[:39], False), (SHA + "0", False)],
)  # fmt: skip
def test_sha_must_match_whole_value(value: str, valid: bool) -> None:
    """A commit id with anything around it, a trailing newline included, is not a SHA."""
    assert is_sha(value) is valid


def test_zero_sha_must_match_whole_value() -> None:
    """Only a value made of zeros and nothing else means "deleted"."""
    assert is_zero_sha("0" * 40)
    assert not is_zero_sha("0" * 40 + "\n")


@pytest.mark.parametrize("name", ["v1\ud800", "main\udfff", "a\u200bb", "tab\u0085"])
def test_ref_with_unencodable_or_invisible_text_is_refused(name: str) -> None:
    """Lone surrogates and unprintable characters make a ref name invalid."""
    assert ref_name_problem(name) is not None


def test_deploy_ids_and_delivery_ids_match_whole_value() -> None:
    """A trailing newline makes a deploy id or a delivery id unrecognised."""
    assert DEPLOY_ID.fullmatch("d-20260101-000000-abcdef")
    assert not DEPLOY_ID.fullmatch("d-20260101-000000-abcdef\n")
    assert not DEPLOY_ID.fullmatch("d-2026\u0660101-000000-abcdef")  # Arabic-Indic zero
    assert claimed_delivery_id("github", {"X-GitHub-Delivery": "abc\n"}) == ""


def test_signed_push_with_sha_and_newline_is_refused(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    """A signed push whose `after` ends in a newline gets 400 and queues nothing."""
    data = payload("github-push.json")
    data["after"] = data["after"] + "\n"
    response = post_github(client, data)
    assert response.status_code == 400, response.json
    assert "after" in response.json["error"]
    assert queued_jobs(redis_conn) == []


def test_signed_tag_with_lone_surrogate_is_refused(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    """A signed tag push named `v1\\ud800` gets 400, queues nothing, and the pages still work."""
    data = payload("github-push.json")
    data["ref"] = "refs/tags/v1\ud800"
    data["head_commit"] = {"id": SHA}
    response = post_github(client, data)
    assert response.status_code == 400, response.json
    assert "ref" in response.json["error"]
    assert queued_jobs(redis_conn) == []
    for path in ("/", "/deploys", "/api/deploys"):
        assert client.get(path).status_code == 200, path
