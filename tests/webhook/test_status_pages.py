"""The status pages: what they show, that they escape everything, and the live log stream."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import redis

from jobs.state.keys import last_good as last_good_key
from jobs.state.keys import lock as lock_key
from jobs.state.records import Deploy, DeployStore, utc_time
from tests.support.status import make_deploy, set_json, stage, status_app
from webhook.operator.render import show_text
from webhook.status.live import DRAIN_STOP_SECONDS, stream_log, watch_ends

HOSTILE = '<script>alert("x")</script>'


def test_index_shows_each_environment(redis_conn: redis.Redis) -> None:
    """/ shows every environment: running commit, last deploy with state, lock and queue."""
    store = DeployStore(redis_conn)
    deploy = make_deploy(store, "dev", state="running")
    set_json(redis_conn, last_good_key("crm/dev"), {"sha": "abcdef1234567890", "at": "t"})
    set_json(redis_conn, lock_key("crm/prod"), {"reason": "locked by operator via API: db"})
    page = status_app(redis_conn).test_client().get("/").get_data(as_text=True)
    assert 'crm <span class="slash">/</span> dev' in page and "prod" in page
    assert f'href="/deploys/{deploy.id}"' in page and "state-running" in page
    assert "abcdef1234" in page
    assert "locked by operator via API: db" in page
    assert "0 waiting" in page


def test_unreadable_records_show_as_unknown(redis_conn: redis.Redis) -> None:
    """A malformed lock or last-good value shows as unknown instead of breaking the page."""
    redis_conn.set(lock_key("crm/dev"), b"\x00garbage")
    redis_conn.set(last_good_key("crm/dev"), b"[]")
    answer = status_app(redis_conn).test_client().get("/")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "unknown (unreadable lock value)" in page
    assert "unknown (unreadable record)" in page


def test_everything_from_records_is_escaped(redis_conn: redis.Redis) -> None:
    """Text from payloads and logs is escaped on every page, never rendered as markup."""
    store = DeployStore(redis_conn)
    deploy = make_deploy(
        store, sender=HOSTILE, ref_name=HOSTILE, error=HOSTILE, state="failed",
        stages=[stage("build", "2026-01-01T00:00:00Z", "2026-01-01T00:01:05Z", "failed")],
    )  # fmt: skip
    store.append_log(deploy.id, HOSTILE)
    store.add_reporting_problem(deploy.id, HOSTILE)
    client = status_app(redis_conn).test_client()
    for path in ("/", "/deploys", f"/deploys/{deploy.id}"):
        page = client.get(path).get_data(as_text=True)
        assert HOSTILE not in page, path
        assert "&lt;script&gt;" in page, path


def test_pages_never_show_config_secrets(redis_conn: redis.Redis) -> None:
    """No page or API answer contains the webhook secret from the configuration."""
    make_deploy(DeployStore(redis_conn))
    client = status_app(redis_conn).test_client()
    for path in ("/", "/deploys", "/api/environments", "/api/deploys", "/metrics"):
        assert "webhook-secret-never-shown" not in client.get(path).get_data(as_text=True)


def test_deploy_page_shows_stages_error_problems_and_log(redis_conn: redis.Redis) -> None:
    """/deploys/<id> shows stage timings, the error, reporting problems and the log so far."""
    store = DeployStore(redis_conn)
    deploy = make_deploy(
        store, state="reverted", error="health: expected 200, got 502", failed_stage="health",
        stages=[stage("backup", "2026-01-01T00:00:00Z", "2026-01-01T00:00:04.5Z"),
                stage("health", "2026-01-01T00:00:05Z", "2026-01-01T00:02:10Z", "failed")],
    )  # fmt: skip
    store.append_log(deploy.id, "building api", "health check failed")
    store.add_reporting_problem(deploy.id, "slack: 404 no_team")
    answer = status_app(redis_conn).test_client().get(f"/deploys/{deploy.id}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "4.5s" in page and "2m 05s" in page
    assert "health failed" in page and "expected 200, got 502" in page
    assert "slack: 404 no_team" in page
    assert "building api\nhealth check failed\n</pre>" in page
    assert 'data-next="2"' in page and 'data-final="true"' in page
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]


def test_warnings_show_on_the_deploy_page_the_history_and_show(redis_conn: redis.Redis) -> None:
    """A succeeded deploy's warnings: listed (escaped) on its page, counted in the history,
    and in `deployhook show`; a deploy without any shows no such section."""
    store = DeployStore(redis_conn)
    text = "api: retiring the old container(s) 0123456789ab failed: <No such container>"
    warned = make_deploy(store, state="succeeded", warnings=[text])
    clean = make_deploy(store, state="succeeded")
    client = status_app(redis_conn).test_client()
    page = client.get(f"/deploys/{warned.id}").get_data(as_text=True)
    assert 'id="deploy-warnings"' in page and "failed: &lt;No such container&gt;" in page
    hidden = 'id="deploy-warnings" class="warnings" role="status" hidden>'
    assert hidden not in page
    assert hidden in client.get(f"/deploys/{clean.id}").get_data(as_text=True)
    history = client.get("/deploys").get_data(as_text=True)
    assert history.count('class="warned"') == 1 and ">1 warning</span>" in history
    assert f"  WARNING     {text}" in show_text(store.get(warned.id), [], [])


def test_missing_deploy_and_bad_filters_are_clear_errors(redis_conn: redis.Redis) -> None:
    """An unknown deploy answers 404 and a bad filter 400, each with a message, no trace."""
    client = status_app(redis_conn).test_client()
    missing = client.get("/deploys/d-20200101-000000-000000")
    assert missing.status_code == 404
    assert "no deploy d-20200101-000000-000000" in missing.get_data(as_text=True)
    bad = client.get("/deploys/nonsense")
    assert bad.status_code == 404 and "is not a deploy id" in bad.get_data(as_text=True)
    wrong = client.get("/deploys?state=done&limit=9")
    assert wrong.status_code == 400 and "state must be one of" in wrong.get_data(as_text=True)


def test_history_page_filters(redis_conn: redis.Redis) -> None:
    """/deploys lists deploys newest first and narrows them by environment and state."""
    store = DeployStore(redis_conn)
    dev = make_deploy(store, "dev", state="failed")
    prod = make_deploy(store, "prod", state="succeeded")
    client = status_app(redis_conn).test_client()
    page = client.get("/deploys").get_data(as_text=True)
    assert page.index(prod.id) < page.index(dev.id)
    page = client.get("/deploys?environment=crm/dev&state=failed").get_data(as_text=True)
    assert dev.id in page and prod.id not in page
    assert '<option value="crm/dev" selected>' in page


def _events(chunks: list[str]) -> list[tuple[str, dict[str, object]]]:
    found = []
    for chunk in "".join(chunks).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_stream_sends_new_lines_state_changes_and_ends(redis_conn: redis.Redis) -> None:
    """The SSE stream sends lines as they are appended, state changes, then ends when final."""
    store = DeployStore(redis_conn)
    deploy = make_deploy(store)
    store.append_log(deploy.id, "one")
    passes = []

    def between_polls(_: float) -> None:
        # Stands in for the worker, one step per poll of the stream.
        passes.append(1)
        if len(passes) == 1:
            store.transition(store.get(deploy.id), "running")
            store.append_log(deploy.id, "two", "three")
        elif len(passes) == 2:
            store.append_log(deploy.id, "four")
            store.transition(store.get(deploy.id), "succeeded")

    chunks = list(stream_log(store, deploy.id, 1, sleep=between_polls))
    events = _events(chunks)
    assert [name for name, _ in events] == ["deploy", "log", "deploy", "log", "deploy", "end"]
    assert events[1][1] == {"start": 1, "lines": ["two", "three"]}
    assert events[3][1] == {"start": 3, "lines": ["four"]}
    assert [data["state"] for name, data in events if name == "deploy"] == [
        "queued", "running", "succeeded",
    ]  # fmt: skip
    assert "id: 3\n" in "".join(chunks) and events[-1][1] == {"next": 4}


def test_stream_resumes_from_last_event_id(redis_conn: redis.Redis) -> None:
    """A reconnecting browser's Last-Event-ID decides where the stream resumes."""
    store = DeployStore(redis_conn)
    deploy = make_deploy(store, state="succeeded")
    store.append_log(deploy.id, "a", "b", "c")
    client = status_app(redis_conn).test_client()
    answer = client.get(f"/deploys/{deploy.id}/log/stream?start=0", headers={"Last-Event-ID": "2"})
    assert answer.mimetype == "text/event-stream"
    events = _events([answer.get_data(as_text=True)])
    assert events[0] == ("log", {"start": 2, "lines": ["c"]})
    assert events[-1] == ("end", {"next": 3})


def test_stream_ends_after_its_lifetime(redis_conn: redis.Redis) -> None:
    """A stream of an unfinished deploy ends after its lifetime so the browser reconnects."""
    store = DeployStore(redis_conn)
    deploy = make_deploy(store)
    ticks = iter(range(1000))
    chunks = list(
        stream_log(store, deploy.id, 0, lifetime=5, clock=lambda: next(ticks), sleep=lambda _: None)
    )
    assert [name for name, _ in _events(chunks)] == ["deploy"]
    assert chunks[0].startswith("retry: ")


def _draining(store: DeployStore, drain_ends_in: float, finished_ago: float = 1.0) -> Deploy:
    """A zero-downtime deploy that succeeded while its old api container still drains."""
    now = time.time()
    return make_deploy(
        store, state="succeeded", finished_at=utc_time(now - finished_ago),
        draining={"0123456789abcdef": utc_time(now + drain_ends_in)},
    )  # fmt: skip


def test_stream_follows_a_finished_deploy_until_its_drain_ends(redis_conn: redis.Redis) -> None:
    """Through the app: a succeeded deploy whose old containers drain keeps its page live, and
    the warning and log lines that come after the final state (an old container not removed)
    are streamed before the stream ends; the page then loads as finished."""
    store = DeployStore(redis_conn)
    deploy = _draining(store, drain_ends_in=2)
    store.append_log(deploy.id, "api: 0123456789ab out of the name, draining 2s before SIGTERM")
    client = status_app(redis_conn).test_client()
    page = client.get(f"/deploys/{deploy.id}").get_data(as_text=True)
    assert 'data-final="false"' in page and "connecting…" in page
    warning = "api: retiring the old container(s) 0123456789ab failed: <gone>"

    def the_worker_after_the_drain() -> None:
        time.sleep(1.5)  # the stream has polled the draining record by now
        store.append_log(deploy.id, warning)
        record = store.get(deploy.id)
        record.draining, record.warnings = {}, [warning]
        store.amend(record, report=True)

    worker = threading.Thread(target=the_worker_after_the_drain)
    worker.start()
    answer = client.get(f"/deploys/{deploy.id}/log/stream?start=1")
    events = _events([answer.get_data(as_text=True)])  # the whole stream, to its end
    worker.join()
    assert [name for name, _ in events] == ["deploy", "log", "deploy", "end"]
    first, last = events[0][1], events[2][1]
    assert first["final"] and not first["settled"] and first["draining"] == ["0123456789ab"]
    assert first["warnings"] == []
    assert events[1][1] == {"start": 1, "lines": [warning]}
    assert last["settled"] and last["draining"] == [] and last["warnings"] == [warning]
    page = client.get(f"/deploys/{deploy.id}").get_data(as_text=True)
    assert 'data-final="true"' in page and "failed: &lt;gone&gt;" in page
    polled = client.get(f"/api/deploys/{deploy.id}/log?start=2").get_json()
    assert polled["deploy"]["settled"] and polled["deploy"]["warnings"] == [warning]


def test_stream_of_a_draining_deploy_is_bounded(redis_conn: redis.Redis) -> None:
    """A finished deploy still listing draining containers: each stream ends at its lifetime
    (the browser reconnects, giving its slot back), and the watch ends for good, with `end`,
    once the drain's recorded end plus the stop after it has passed (a worker that died)."""
    store = DeployStore(redis_conn)
    deploy = _draining(store, drain_ends_in=10)
    ticks = iter(range(1000))
    chunks = list(
        stream_log(store, deploy.id, 0, lifetime=5, clock=lambda: next(ticks), sleep=lambda _: None)
    )
    assert [name for name, _ in _events(chunks)] == ["deploy"]
    later = time.time() + 10 + DRAIN_STOP_SECONDS
    events = _events(list(stream_log(store, deploy.id, 0, now=lambda: later)))
    assert [name for name, _ in events] == ["deploy", "end"] and events[0][1]["settled"]
    left = _draining(store, drain_ends_in=-DRAIN_STOP_SECONDS - 1, finished_ago=90)
    client = status_app(redis_conn).test_client()
    assert 'data-final="true"' in client.get(f"/deploys/{left.id}").get_data(as_text=True)
    events = _events([client.get(f"/deploys/{left.id}/log/stream").get_data(as_text=True)])
    assert [name for name, _ in events] == ["deploy", "end"]


def test_the_watch_of_a_drain_believes_no_end_past_the_longest_drain() -> None:
    """The drain's recorded end bounds the watch; an end past the longest drain after the
    deploy's end (a clock that jumped, a broken record) is cut there, an unreadable one is long
    past, and a record without an end time or without draining containers is not watched."""
    finished = "2026-12-07T04:00:00.000Z"
    base = datetime.fromisoformat(finished.replace("Z", "+00:00")).timestamp()
    rows = [
        ({"a": "2026-12-07T04:00:12.000Z"}, finished, base + 12 + DRAIN_STOP_SECONDS),
        ({"a": "2036-12-07T04:00:00.000Z"}, finished, base + 3600 + DRAIN_STOP_SECONDS),
        ({"a": "soon", "b": "2026-12-07T04:00:05.000Z"}, finished, base + 5 + DRAIN_STOP_SECONDS),
        ({"a": "2026-12-07T04:00:12.000Z"}, None, None),
        ({}, finished, None),
    ]
    for draining, finished_at, expected in rows:
        record = Deploy.from_json(json.dumps({"draining": draining, "finished_at": finished_at}))
        assert watch_ends(record) == expected, draining
