"""Wait for green checks, against loopback stand-ins answering like GitHub, GitLab and Gitea:
pending then success, pending then failure, never finishing, refused, and a newer push."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import redis
from pytest_httpserver import HTTPServer
from rq import Queue
from werkzeug import Response

from jobs.gates.checks import Verdict, gitlab_results, verdict, wait_for_green
from jobs.gates.waker import requeue_interrupted_waits
from jobs.report.text import describe
from jobs.runbook.pipeline import deploy, pass_gates
from jobs.state.locks import current_owner
from jobs.state.records import Deploy, DeployStore, events_key
from jobs.state.submit import DeployRequest, submit
from tests.gates.conftest import GatedSettings, log_of, queued
from tests.support.provider_server import GITEA, GITHUB, GITLAB, ProviderServer, json_response
from tests.support.report_setup import SHA

FAST = {"timeout": 5, "interval": 0.05, "max_interval": 0.1}
GH = f"{GITHUB}/repos/acme/crm/commits/{SHA}"
GL = f"{GITLAB}/projects/acme%2Fweb%2Fshop/repository/commits/{SHA}/statuses"
GT = f"{GITEA}/api/v1/repos/acme/blog/commits/{SHA}/status"


def ok(body: Any) -> Response:
    return json_response(body, 200)


def gh_status(*states: tuple[str, str]) -> Response:
    overall = "pending" if any(s == "pending" for _, s in states) else "success"
    return ok({"state": overall, "statuses": [{"context": c, "state": s} for c, s in states]})


def gh_runs(*runs: tuple[str, str, str | None]) -> Response:
    return ok({"total_count": len(runs), "check_runs": [
        {"name": name, "status": status, "conclusion": conclusion}
        for name, status, conclusion in runs
    ]})  # fmt: skip


def gitea(state: str) -> Response:
    return ok({"state": state, "statuses": [{"context": "ci", "status": state}]})


def waited(store: DeployStore, record: Deploy) -> list[str | None]:
    """The waiting_for of each snapshot the reporters were given."""
    raw = store.redis.lrange(events_key(record.id), 0, -1)
    return [json.loads(item)["waiting_for"] for item in raw]


def test_github_pending_then_success(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """Pending statuses and running check runs wait; all green lets the deploy go on."""
    settings = gated(wait_for_checks=FAST)
    ours = ("deployhook/prod", "pending")  # our own status on the commit never counts
    provider.script(f"{GH}/status", gh_status(("ci/build", "pending"), ours),
                    gh_status(("ci/build", "success"), ours))  # fmt: skip
    provider.script(f"{GH}/check-runs", gh_runs(("lint", "in_progress", None)),
                    gh_runs(("lint", "completed", "success")))  # fmt: skip
    record = queued(store)
    assert pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    after = store.get(record.id)
    assert (after.state, after.waiting_for) == ("queued", None)
    shown = [text for text in waited(store, record) if text]
    assert shown == ["CI checks: 0 of 2 done; waiting for ci/build, lint"]
    log = "\n".join(store.log(record.id))
    assert "CI checks for 1f2e3d4c5b6a: pending" in log and ": green (2 green)" in log
    headers = provider.to(f"{GH}/status")[0].headers
    assert headers["Authorization"] == "Bearer ghp_testtoken0123456789"


def test_github_pending_then_failure_blocks(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """A failed check run ends the deploy blocked, naming the failed check."""
    settings = gated(wait_for_checks=FAST)
    provider.script(f"{GH}/status", gh_status(("ci/build", "pending")),
                    gh_status(("ci/build", "success")))  # fmt: skip
    provider.script(f"{GH}/check-runs", gh_runs(("lint", "queued", None)),
                    gh_runs(("lint", "completed", "failure")))  # fmt: skip
    record = queued(store)
    assert not pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    after = store.get(record.id)
    assert (after.state, after.blocked_by) == ("blocked", "wait_for_checks")
    assert after.error == "CI failed: failed: lint"
    assert describe(after) == "not deployed to prod: blocked: CI failed: failed: lint"


def test_checks_that_never_finish_block_at_the_deadline(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """CI that stays pending ends blocked once the configured time is up, polling with backoff."""
    settings = gated(wait_for_checks={"timeout": 1.0, "interval": 0.1, "max_interval": 0.4})
    provider.script(f"{GH}/status", *[gh_status(("ci/build", "pending"))] * 50)
    provider.script(f"{GH}/check-runs", *[gh_runs()] * 50)
    record = queued(store)
    started = time.monotonic()
    assert not pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    assert 1.0 <= time.monotonic() - started < 8.0  # generous: the machine is shared
    after = store.get(record.id)
    assert after.state == "blocked"
    assert after.error is not None and after.error.startswith(
        "CI did not finish in time: still pending after 1s"
    )
    assert 2 <= len(provider.to(f"{GH}/status")) <= 8  # 0.1, 0.2, 0.4 ...: not a busy loop


def test_polls_back_off_up_to_the_largest_pause() -> None:
    """Pauses double from `interval` up to `max_interval`; the last one stops at the deadline."""
    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    result = wait_for_green(
        lambda: Verdict("pending", "ci running"),
        timeout=3.0,
        interval=0.25,
        max_interval=1.0,
        superseded=lambda: False,
        on_change=lambda _verdict: None,
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert pauses == [0.25, 0.5, 1.0, 1.0, 0.25]
    assert (result.light, result.detail) == (
        "timeout",
        "still pending after 3s; last seen: ci running",
    )


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (  # a job allowed to fail does not hold the deploy back
            [[{"name": "test", "status": "running"}],
             [{"name": "test", "status": "success"},
              {"name": "flaky", "status": "failed", "allow_failure": True},
              {"name": "deployhook/prod", "status": "pending"}]],
            "queued",
        ),
        ([[{"name": "test", "status": "pending"}], [{"name": "test", "status": "failed"}]],
         "blocked"),
    ],
)  # fmt: skip
def test_gitlab_job_statuses(
    redis_conn: redis.Redis,
    store: DeployStore,
    gated: GatedSettings,
    provider: ProviderServer,
    answers: list[list[dict[str, Any]]],
    expected: str,
) -> None:
    """GitLab: the commit's jobs decide; our own deployhook/<env> status is left out."""
    settings = gated(wait_for_checks=FAST)
    provider.script(GL, *[ok(answer) for answer in answers])
    record = queued(store, "shop")
    pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    assert store.get(record.id).state == expected
    assert provider.to(GL)[0].headers["Private-Token"] == "glpat-testtoken0123456789"


@pytest.mark.parametrize(
    ("second", "expected"), [("success", "queued"), ("failure", "blocked"), ("error", "blocked")]
)
def test_gitea_combined_status(
    redis_conn: redis.Redis,
    store: DeployStore,
    gated: GatedSettings,
    provider: ProviderServer,
    second: str,
    expected: str,
) -> None:
    """Gitea: pending waits, success goes on, failure or error blocks."""
    settings = gated(wait_for_checks=FAST)
    provider.script(GT, gitea("pending"), gitea(second))
    record = queued(store, "blog")
    pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    assert store.get(record.id).state == expected
    assert provider.to(GT)[0].headers["Authorization"] == "token gitea0123456789testtoken"


def test_a_refused_token_blocks_at_once(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """A 401 cannot get better by waiting: blocked, naming the token, never the token itself."""
    settings = gated(wait_for_checks=FAST)
    provider.script(f"{GH}/status", json_response({"message": "Bad credentials"}, 401))
    record = queued(store)
    assert not pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    after = store.get(record.id)
    assert after.state == "blocked" and after.error is not None
    assert "HTTP 401" in after.error and "check the token in notify" in after.error
    assert "ghp_" not in after.error


def test_a_server_error_is_retried(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """A 502 from the git host reads as pending and the next poll decides."""
    settings = gated(wait_for_checks=FAST)
    provider.script(f"{GH}/status", json_response({}, 502), gh_status(("ci", "success")))
    provider.script(f"{GH}/check-runs", gh_runs())
    record = queued(store)
    assert pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)


def test_a_newer_push_supersedes_a_waiting_deploy_which_holds_no_lock(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """While a deploy waits for CI the environment is not locked; a newer push ends the wait."""
    settings = gated(wait_for_checks={"timeout": 20, "interval": 0.05, "max_interval": 0.1})
    provider.script(f"{GH}/status", *[gh_status(("ci/build", "pending"))] * 400)
    older = submit(redis_conn, settings, [DeployRequest(
        "crm", "prod", "tag", "v1.4.0", SHA, "github tag push")]).deploys[0]  # type: ignore[union-attr]  # fmt: skip
    locks: list[object] = []

    def newer_push() -> None:
        time.sleep(0.5)
        locks.append(current_owner(redis_conn, "crm/prod"))
        submit(redis_conn, settings, [DeployRequest(
            "crm", "prod", "tag", "v1.4.1", "2" * 40, "github tag push")])  # fmt: skip

    pusher = threading.Thread(target=newer_push)
    pusher.start()
    started = time.monotonic()
    assert deploy(older.id, settings, redis_conn) == "superseded"
    pusher.join()
    assert time.monotonic() - started < 10
    assert locks == [None]
    assert store.get(older.id).waiting_for is None


@pytest.mark.parametrize(
    ("results", "light"),
    [
        ([], "pending"),
        ([("a", "success"), ("b", "neutral"), ("c", "skipped")], "green"),
        ([("a", "success"), ("b", "running")], "pending"),
        ([("a", "failure"), ("b", "running")], "red"),
        ([("a", "timed_out")], "red"),
        ([("a", "canceled")], "red"),
        ([("a", "action_required")], "red"),
        ([("a", "stale")], "red"),
        ([("a", "created"), ("b", "waiting_for_resource")], "pending"),
    ],
)
def test_verdict(results: list[tuple[str, str]], light: str) -> None:
    """Any red is red, all green is green, anything else (or nothing yet) is pending."""
    assert verdict(results).light == light


def test_gitlab_leaves_out_our_own_statuses() -> None:
    """deployhook's own status is pending while it waits: it must not count as CI."""
    statuses = [
        {"name": "deployhook/prod", "status": "pending"},
        {"name": "t", "status": "success"},
    ]
    assert gitlab_results(statuses, {"deployhook/prod"}) == [("t", "success")]


def test_a_wait_interrupted_by_a_dead_worker_is_queued_again(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """A worker starting on the host queues again a deploy whose waiting worker died, only that."""
    settings = gated(wait_for_checks=FAST)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    orphan = queued(store, waiting_for="CI checks: 0 of 1 done", worker=f"{host}:{gone.pid}")
    alive = queued(store, waiting_for="CI checks: 0 of 1 done", worker=f"{host}:{os.getpid()}")
    queued(store, waiting_for="the deploy window (sat 00:00-24:00 UTC)")
    assert requeue_interrupted_waits(settings, redis_conn, ["deploys.local"]) == [orphan.id]
    assert Queue("deploys.local", connection=redis_conn).get_job_ids() == [orphan.id]
    assert store.get(orphan.id).worker is None and store.get(alive.id).worker is not None


def test_a_second_run_of_the_job_does_nothing_after_its_wait(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """If another run of the same job started the deploy during the wait, this one stops."""
    settings = gated(wait_for_checks={"timeout": 20, "interval": 0.2, "max_interval": 0.2})
    provider.script(f"{GH}/status", gh_status(("ci", "pending")), gh_status(("ci", "pending")),
                    gh_status(("ci", "success")))  # fmt: skip
    provider.script(f"{GH}/check-runs", gh_runs(), gh_runs(), gh_runs())
    record = queued(store)

    def other_run_starts_it() -> None:
        time.sleep(0.1)
        store.transition(store.get(record.id), "running")

    other = threading.Thread(target=other_run_starts_it)
    other.start()
    assert deploy(record.id, settings, redis_conn) == "running"
    other.join()
    assert store.get(record.id).stages == []


def test_a_redirect_to_another_host_never_carries_the_gitlab_token(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """GitLab's CI-results request answered with a redirect to another host is not followed:
    the other host never sees PRIVATE-TOKEN, and the deploy is blocked saying where it pointed;
    a redirect within the same host is followed, token and all."""
    elsewhere = HTTPServer(host="127.0.0.1", port=0)
    elsewhere.expect_request(re.compile(".*")).respond_with_json([])
    elsewhere.start()
    try:
        away = f"http://localhost:{elsewhere.port}/api/v4/statuses"
        settings = gated(wait_for_checks=FAST)
        provider.script(GL, Response(status=302, headers={"Location": away}))
        record = queued(store, "shop")
        pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
        blocked = store.get(record.id)
        assert blocked.state == "blocked"
        assert f"redirected the CI-results request to http://localhost:{elsewhere.port}" in str(
            blocked.error
        )
        assert [request for request, _ in elsewhere.log] == []
        here = provider.url(f"{GL}-moved")
        provider.script(
            GL,
            Response(status=301, headers={"Location": here}),
            ok([{"name": "t", "status": "success"}]),
        )
        record = queued(store, "shop")
        pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
        assert store.get(record.id).state == "queued"
        assert provider.to(f"{GL}-moved")[0].headers["Private-Token"] == "glpat-testtoken0123456789"
    finally:
        elsewhere.stop()
