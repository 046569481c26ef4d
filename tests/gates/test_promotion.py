"""The promotion gate: a commit reaches prod only after it succeeded in staging; blocked deploys
touch nothing and are reported as not deployed, with the reason; overrides are recorded."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from jobs.operations.queueing import override_reason
from jobs.operations.targets import OperationError
from jobs.report import drain
from jobs.runbook.pipeline import deploy, pass_gates
from jobs.state.locks import current_owner
from jobs.state.records import DeployStore
from jobs.state.submit import DeployRequest, Submitted, submit
from tests.gates.conftest import GatedSettings, log_of, queued, succeeded
from tests.support.provider_server import GITHUB, GITLAB, SLACK, WEBHOOK, ProviderServer
from tests.support.report_setup import SHA

OTHER = "0" * 39 + "1"


def test_a_commit_not_deployed_to_staging_is_blocked(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """Without a success in staging the prod deploy ends blocked, no stage run, no lock taken."""
    settings = gated(promote_from=["staging"])
    succeeded(store, "crm", "staging", sha=OTHER)  # another commit made it; this one did not
    record = queued(store)
    assert deploy(record.id, settings, redis_conn) == "blocked"
    after = store.get(record.id)
    assert (after.state, after.blocked_by, after.stages) == ("blocked", "promote_from", [])
    assert after.error is not None and f"commit {SHA[:12]} has not succeeded in staging" in (
        after.error
    )
    assert after.finished_at is not None
    assert current_owner(redis_conn, record.target) is None
    assert any("blocked by promote_from" in line for line in store.log(record.id))
    assert [deploy.id for deploy in store.history("crm/prod")] == [record.id]


def test_blocked_is_reported_everywhere_as_not_deployed(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings, provider: ProviderServer
) -> None:
    """GitHub, GitLab, Slack and the JSON webhook say "not deployed" and why."""
    settings = gated(promote_from=["staging"])
    for project in ("crm", "shop"):
        deploy(queued(store, project).id, settings, redis_conn)
    drain(settings, redis_conn, timeout=20)
    github = [seen.body for seen in provider.to(f"{GITHUB}/repos/acme/crm/statuses/{SHA}")]
    assert github[-1]["state"] == "failure"
    assert github[-1]["description"].startswith("not deployed to prod: blocked: commit")
    gitlab = [seen.body for seen in provider.to(f"{GITLAB}/projects/") if seen.body]
    assert gitlab[-1]["state"] == "failed"
    assert "not deployed to prod: blocked" in gitlab[-1]["description"]
    slack = [seen.body for seen in provider.to(SLACK)]
    assert any("Not deployed to crm → prod: blocked" in body["text"] for body in slack)
    assert any("has not succeeded in staging" in str(body["blocks"]) for body in slack)
    events = [seen.body for seen in provider.to(WEBHOOK) if seen.body["event"] == "blocked"]
    assert {event["deploy"]["project"] for event in events} == {"crm", "shop"}
    assert all(event["deploy"]["deployed"] is False for event in events)
    assert all(event["deploy"]["blocked_by"] == "promote_from" for event in events)
    # GitHub Deployments: none is created for a deploy that never started.
    assert not [seen for seen in provider.to(GITHUB) if seen.path.endswith("/deployments")]


def test_a_commit_that_succeeded_in_staging_passes(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """A success of the same commit in every named environment opens the gate."""
    settings = gated(promote_from=["staging"])
    succeeded(store, "crm", "staging")
    record = queued(store)
    assert pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    assert store.get(record.id).state == "queued"


def test_a_failed_staging_deploy_does_not_count(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """Only `succeeded` counts: a reverted staging deploy of the commit keeps prod blocked."""
    settings = gated(promote_from=["staging"])
    failed = queued(store, environment="staging")
    store.transition(failed, "running")
    store.transition(failed, "reverted")
    record = queued(store)
    assert not pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    assert store.get(record.id).state == "blocked"


def test_an_override_passes_and_is_recorded(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """A manual deploy with --force REASON passes the gate; the reason is on the record and log."""
    settings = gated(promote_from=["staging"])
    result = submit(redis_conn, settings, [DeployRequest(
        "crm", "prod", "tag", "v1.4.0", SHA, "manual", sender="alice",
        override_reason=override_reason("  hotfix for\nincident 42 "),
    )])  # fmt: skip
    assert isinstance(result, Submitted)
    record = store.get(result.deploys[0].id)
    assert record.override_reason == "hotfix for incident 42"
    assert pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    assert any(
        "release gates overridden by alice: hotfix for incident 42" in line
        for line in store.log(record.id)
    )


def test_an_override_needs_a_reason() -> None:
    """--force with an empty reason is refused with what to write instead."""
    with pytest.raises(OperationError, match="--force needs a reason"):
        override_reason("   ")
    assert override_reason(None) is None


def test_a_rollback_passes_the_gate(
    redis_conn: redis.Redis, store: DeployStore, gated: GatedSettings
) -> None:
    """A rollback returns to what this environment already ran: the gates do not stop it."""
    settings = gated(promote_from=["staging"])
    record = queued(store, trigger="rollback")
    assert pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)


@pytest.mark.parametrize(
    ("upstream_ends", "expected", "reason"),
    [
        ("succeeded", "queued", None),
        ("reverted", "blocked", "has not succeeded in staging (promote_from)"),
        (None, "blocked", "its deploy upstream did not finish: still pending after 1s"),
    ],
)
def test_a_commit_still_deploying_upstream_is_waited_for(
    redis_conn: redis.Redis,
    store: DeployStore,
    gated: GatedSettings,
    monkeypatch: pytest.MonkeyPatch,
    upstream_ends: str | None,
    expected: str,
    reason: str | None,
) -> None:
    """Main and the tag pushed together: prod waits for staging's result, holding no lock."""
    monkeypatch.setattr("jobs.gates.PROMOTION_WAIT", (1.0, 0.05, 0.1))
    settings = gated(promote_from=["staging"])
    upstream = queued(store, environment="staging")
    store.transition(upstream, "running")
    record = queued(store)
    locks: list[object] = []
    notes: list[str | None] = []

    def staging_finishes() -> None:
        time.sleep(0.3)
        locks.append(current_owner(redis_conn, "crm/prod"))
        notes.append(store.get(record.id).waiting_for)
        if upstream_ends:
            store.transition(upstream, upstream_ends)  # type: ignore[arg-type]

    finisher = threading.Thread(target=staging_finishes)
    finisher.start()
    passed = pass_gates(redis_conn, settings, record, log_of(store, record), lambda: False)
    finisher.join()
    after = store.get(record.id)
    assert (passed, after.state, locks) == (expected == "queued", expected, [None])
    assert notes == [f"promotion: {SHA[:12]} still deploying in staging"]
    assert reason is None or (after.error is not None and reason in after.error)
