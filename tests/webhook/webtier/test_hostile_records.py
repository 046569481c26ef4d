"""No stored value, however it got into Redis, can make a page or an API route answer 500."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
import redis

from jobs.state import keys
from jobs.state.ids import new_deploy_id
from jobs.state.keys import last_good as last_good_key
from jobs.state.keys import lock as lock_key
from jobs.state.readback import typed_fields
from tests.support.deliveries import make_settings
from tests.support.users import client_as, signed_in_client
from webhook.app import create_app

GOOD_SHA = "0123456789abcdef0123456789abcdef01234567"
# Each value is written verbatim as a deploy record, as a bug, an old version or a hand edit might.
HOSTILE_RECORDS: dict[str, bytes] = {
    "not json": b"\xff\x00{garbage",
    "a list": b"[1, 2, 3]",
    "wrong types": json.dumps(
        {
            "project": 5,
            "environment": None,
            "sha": ["x"],
            "ref_name": {"a": 1},
            "state": "exploded",
            "stages": "nope",
            "created_at": 7,
            "started_at": "not a time",
            "finished_at": [],
            "extra": [],
            "ref_kind": 3,
        }
    ).encode(),
    "lone surrogates": (
        '{"project":"crm","environment":"dev","ref_kind":"tag","ref_name":"v1\\ud800",'
        f'"sha":"{GOOD_SHA}","trigger":"github tag push","sender":"\\udfff",'
        '"state":"queued","error":"\\ud800 boom","stages":[{"name":"\\ud800",'
        '"started_at":"2026-01-01T00:00:00Z"}]}'
    ).encode(),
    "bad stages": json.dumps(
        {
            "project": "crm",
            "environment": "dev",
            "ref_kind": "branch",
            "ref_name": "main",
            "sha": GOOD_SHA + "\n",
            "trigger": "t",
            "state": "failed",
            "stages": [{"name": 1}, "x", None, {"name": "build", "started_at": 5, "outcome": 9}],
        }
    ).encode(),
}


@pytest.fixture
def hostile_ids(redis_conn: redis.Redis) -> list[str]:
    """One history entry per hostile record, plus unreadable logs, commands and problems."""
    ids = []
    for offset, raw in enumerate(HOSTILE_RECORDS.values()):
        deploy_id = new_deploy_id(time.time() - offset)[:-6] + f"{offset:06x}"
        text = raw
        if raw.startswith(b"{"):
            text = raw.replace(b"{", b'{"id":"%s",' % deploy_id.encode(), 1)
        redis_conn.set(keys.deploy(deploy_id), text)
        for key in (keys.history(), keys.history("crm/dev")):
            redis_conn.zadd(key, {deploy_id: time.time() - offset})
        redis_conn.rpush(keys.log(deploy_id), b"\xff\xfe line", "\ud7ff ok")
        redis_conn.rpush(keys.commands(deploy_id), b"\xffnot json", b"[]")
        redis_conn.rpush(keys.reporting_problems(deploy_id), b"\xff\x00")
        ids.append(deploy_id)
    redis_conn.set(lock_key("crm/dev"), b'{"deploy_id": 5, "pid": "x", "since": []}')
    redis_conn.set(last_good_key("crm/dev"), '{"sha": "\\ud800", "at": 3}')
    return ids


def test_no_page_or_api_route_answers_500_on_hostile_records(
    redis_conn: redis.Redis, redis_url: str, tmp_path: Path, hostile_ids: list[str]
) -> None:
    """Every page and API route answers below 500 with hostile records in the history."""
    app = create_app(make_settings(tmp_path, redis_url))
    app.test_client_class = signed_in_client("viewer")
    app.config["LIVE_STREAM_SECONDS"] = 0.3  # streams of unfinished deploys end soon
    client = app.test_client()
    paths = ["/", "/deploys", "/deploys?environment=crm/dev&state=failed", "/api/environments"]
    paths += ["/api/deploys", "/api/deploys?environment=crm/dev", "/metrics", "/healthz"]
    for deploy_id in hostile_ids:
        paths += [f"/deploys/{deploy_id}", f"/api/deploys/{deploy_id}",
                  f"/api/deploys/{deploy_id}/log", f"/deploys/{deploy_id}/log/stream"]  # fmt: skip
    for path in paths:
        answer = client.get(path)
        body = answer.get_data()  # streams run to their end here
        assert answer.status_code < 500, (path, answer.status_code, body[:300])
        body.decode("utf-8")  # every answer is valid UTF-8, whatever was stored


def test_a_readable_record_still_shows_beside_hostile_ones(
    redis_conn: redis.Redis, redis_url: str, tmp_path: Path, hostile_ids: list[str]
) -> None:
    """Hostile records do not hide the readable ones: the history still lists them."""
    from jobs.state.records import DeployStore
    from tests.support.status import make_deploy

    good = make_deploy(DeployStore(redis_conn), ref_name="release-ok")
    app = create_app(make_settings(tmp_path, redis_url))
    client = client_as(app, "viewer")
    assert good.id in client.get("/deploys").get_data(as_text=True)
    listed = client.get("/api/deploys").get_json()
    assert good.id in json.dumps(listed)


@dataclass
class _Shape:
    name: str
    kind: Literal["a", "b"]
    note: str | None = None
    count: int = 0
    nested: dict[str, Any] | None = None
    items: list[str] = field(default_factory=list)


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ({"name": 5, "kind": None, "note": 3, "items": "x"},
         {"name": "", "kind": "", "note": None, "items": []}),
        ({"name": "n", "kind": "a", "count": 2, "nested": {"k": 1}, "extra": 1},
         {"name": "n", "kind": "a", "count": 2, "nested": {"k": 1}}),
    ],
)  # fmt: skip
def test_typed_fields_checks_text_and_collections_and_passes_the_rest(
    stored: dict[str, Any], read: dict[str, Any]
) -> None:
    """Text and list fields of the wrong type fall back; other typed fields pass as stored."""
    assert typed_fields(_Shape, stored) == read
