"""Failure texts name the stage once and put the cause first, within GitHub's 140 characters."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from jobs.failures.describe import describe as describe_failure
from jobs.failures.describe import describe_text, without_stage
from jobs.failures.errors import CommandFailed, StageFailed
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


ARGV = COMPOSE.split()
DAEMON = (
    "Traceback (most recent call last):\n  File x\n"
    "Error response from daemon: container 4f2 is not running"
)
ALEMBIC = (Path(__file__).parents[2] / "failures" / "outputs" / "alembic-not-null.txt").read_text()


@pytest.mark.parametrize(
    ("failed", "expected"),
    [
        (StageFailed("migrate", f"`{COMPOSE}` exited 1",
                     command=CommandFailed(ARGV, f"`{COMPOSE}` exited 1", DAEMON, 1)),
         "Error response from daemon: container 4f2 is not running (exit 1)"),
        (StageFailed("snapshot", "/srv/crm is not a git checkout"),
         "/srv/crm is not a git checkout"),
        (StageFailed("build", f"`{COMPOSE}` exited 2",
                     command=CommandFailed(ARGV, f"`{COMPOSE}` exited 2", "", 2)),
         f"`{COMPOSE}` exited 2"),
        (StageFailed("health", "HTTP 502"), "HTTP 502"),
    ],
)  # fmt: skip
def test_cause_is_the_telling_line_without_the_stage(failed: StageFailed, expected: str) -> None:
    """The cause of a failure kept as data puts the cause line and exit code before argv."""
    assert describe_failure(failed.failure) == expected


@pytest.mark.parametrize(
    ("error", "stage", "expected"),
    [
        (RECORDED, "migrate", "Error response from daemon: container 4f2 is not running"),
        ("snapshot failed: snapshot failed: /srv/crm is not a git checkout", "snapshot",
         "/srv/crm is not a git checkout"),
        ("health failed: HTTP 502 -> reverted to abc", "health", "HTTP 502"),
        (None, "health", ""),
        ("plain words", None, "plain words"),
    ],
)  # fmt: skip
def test_a_record_with_text_only_still_names_its_cause(
    error: str | None, stage: str | None, expected: str
) -> None:
    """Records from before failures were data: the cause is found in the text, not parsed."""
    assert describe_text(error, stage) == expected


def test_the_issue_example_names_the_sql_error_from_a_real_alembic_failure() -> None:
    """A real alembic NOT NULL failure reads as the SQL error, not "(Background on this error"."""
    failed = StageFailed(
        "migrate", f"`{COMPOSE}` exited 1", command=CommandFailed(ARGV, "x", ALEMBIC, 1)
    )
    deploy = Deploy(
        id="d-20260101-000000-abcdef", project="crm", environment="prod", ref_kind="tag",
        ref_name="v1", sha="1" * 40, trigger="github tag push", state="reverted",
        failed_stage="migrate", error=f"migrate failed: {failed} -> reverted to 379cb74d1e2f",
        previous_sha="379cb74d1e2f" + "0" * 28, failure=failed.failure.to_json(),
    )  # fmt: skip
    text = describe(deploy)
    assert len(text) <= 140
    assert 'column "author" of relation "journal" contains null values' in text
    assert "Background on this error" not in text
    assert text.startswith("migrate failed: ") and text.endswith("; reverted to 379cb74")


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
