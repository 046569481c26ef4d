"""Failure texts name the stage once and put the cause first, within GitHub's 140 characters."""

from __future__ import annotations

import pytest
import redis

from jobs.failures.cause import cause, without_stage
from jobs.report.text import describe
from jobs.state.records import Deploy, DeployStore
from tests.support.status import make_deploy, status_app

COMPOSE = (
    "docker-compose -p crm_prod -f /srv/crm/docker-compose.yml exec -T api alembic upgrade head"
)
RECORDED = (
    f"migrate failed: migrate failed: `{COMPOSE}` exited 1: Traceback (most recent call last):\n"
    "  File x\nError response from daemon: container 4f2 is not running"
    " -> reverted to 379cb74d1e2f"
)


@pytest.mark.parametrize(
    ("error", "stage", "expected"),
    [
        (RECORDED, "migrate", "Error response from daemon: container 4f2 is not running (exit 1)"),
        ("snapshot failed: snapshot failed: /srv/crm is not a git checkout", "snapshot",
         "/srv/crm is not a git checkout"),
        (f"build failed: `{COMPOSE}` exited 2", "build", f"`{COMPOSE}` exited 2"),
        ("health failed: HTTP 502 -> reverted to abc", "health", "HTTP 502"),
        (None, "health", ""),
        ("plain words", None, "plain words"),
    ],
)  # fmt: skip
def test_cause_is_the_telling_line_without_the_stage(
    error: str | None, stage: str | None, expected: str
) -> None:
    """The cause drops repeated stage prefixes and the outcome, and puts output before argv."""
    assert cause(error, stage) == expected


def test_without_stage_strips_every_repeat() -> None:
    """The status page shows "snapshot failed:" once, however often the record repeats it."""
    assert without_stage("snapshot failed: snapshot failed: no repo", "snapshot") == "no repo"


def test_description_of_the_issue_example_fits_and_names_the_stage_once() -> None:
    """The example from the issue reads cause first, stage once, revert kept, in 140 chars."""
    deploy = Deploy(
        id="d-20260101-000000-abcdef", project="crm", environment="prod", ref_kind="tag",
        ref_name="v1", sha="1" * 40, trigger="github tag push", state="reverted",
        failed_stage="migrate", error=RECORDED, previous_sha="379cb74d1e2f" + "0" * 28,
    )  # fmt: skip
    text = describe(deploy)
    assert len(text) <= 140
    assert text.count("migrate failed") == 1
    assert text.startswith("migrate failed: Error response from daemon")
    assert text.endswith("; reverted to 379cb74")
    assert "docker-compose" not in text
    deploy.error = "migrate failed: " + "x" * 400
    long = describe(deploy)
    assert len(long) <= 140 and long.endswith("; reverted to 379cb74")


def test_deploy_page_names_the_failed_stage_once(redis_conn: redis.Redis) -> None:
    """The status page reads "snapshot failed: <cause>", never "snapshot failed" twice."""
    store = DeployStore(redis_conn)
    error = "snapshot failed: /srv/crm is not a git checkout -> nothing was changed"
    deploy = make_deploy(store, state="failed", failed_stage="snapshot", error=error)
    page = status_app(redis_conn).test_client().get(f"/deploys/{deploy.id}").get_data(as_text=True)
    shown = page.split('<span id="deploy-error-text">', 1)[1].split("</span>", 1)[0]
    assert shown.startswith("/srv/crm is not a git checkout")
    assert page.count("snapshot failed") == 1
