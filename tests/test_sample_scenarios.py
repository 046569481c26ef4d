"""The sample app's scenario commits do what their names promise under plain compose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import git_repo, sample_scenarios
from tests.support.sample_app import TEMPLATE, SampleApp


def test_scenario_migrations_stack_on_the_current_head(tmp_path: Path) -> None:
    """Each new migration's down_revision is the head the branch had before it."""
    author = tmp_path / "author"
    git_repo.create_origin(TEMPLATE, tmp_path / "origin.git", author, "v1")
    for scenario, expected_down in [
        (sample_scenarios.good_change, "0001_customers"),
        (sample_scenarios.failing_migration, "0002_customer_phone"),
    ]:
        files, message = scenario(author)
        migration = next(text for path, text in files.items() if "/versions/" in path)
        assert f'down_revision = "{expected_down}"' in str(migration)
        git_repo.commit(author, files, message, "main")
    listed = git_repo.list_files(author, sample_scenarios.MIGRATIONS)
    assert [Path(name).name for name in listed] == [
        "0001_customers.py",
        "0002_customer_phone.py",
        "0003_half_done.py",
    ]


def test_tags_point_at_a_tag_object_or_the_commit(tmp_path: Path) -> None:
    """An annotated tag names a tag object peeling to the commit; a lightweight one the commit."""
    author = tmp_path / "author"
    origin = tmp_path / "origin.git"
    sha = git_repo.create_origin(TEMPLATE, origin, author, "v1")
    annotated = git_repo.tag(author, "v1.0.0", sha, annotated=True)
    light = git_repo.tag(author, "v1.0.1", sha, annotated=False)
    assert annotated != sha
    assert git_repo.git(origin, "cat-file", "-t", annotated) == "tag"
    assert git_repo.git(origin, "rev-parse", "v1.0.0^{commit}") == sha
    assert light == sha


@pytest.mark.docker
def test_side_commit_is_not_on_main(sample_app: SampleApp) -> None:
    """side_commit() lands on another branch of origin and main does not contain it."""
    sha = sample_app.side_commit()
    assert sample_app.head("side") == sha
    assert sample_app.head("main") == sample_app.v1
    contains = git_repo.git(sample_app.origin, "branch", "--contains", sha).split()
    assert "main" not in contains


@pytest.mark.docker
def test_broken_build_fails_and_the_old_stack_keeps_serving(sample_app: SampleApp) -> None:
    """broken_build() makes `compose build` fail while v1 stays up."""
    sample_app.check_out(sample_app.broken_build())
    assert sample_app.compose("build").returncode != 0
    assert sample_app.running_version() == "1"


@pytest.mark.docker
def test_failing_migration_fails_leaving_damage_behind(sample_app: SampleApp) -> None:
    """failing_migration() exits non-zero after committing a table and damaged names."""
    sample_app.check_out(sample_app.failing_migration())
    sample_app.compose_ok("build")
    sample_app.compose_ok("up", "-d")
    migrate = sample_app.compose("exec", "-T", "api", "alembic", "upgrade", "head")
    assert migrate.returncode != 0
    assert "migration failed midway on purpose" in migrate.stderr + migrate.stdout
    assert sample_app.psql("SELECT to_regclass('public.half_done') IS NOT NULL") == "t"
    assert sample_app.psql("SELECT count(*) FROM customers WHERE name LIKE '%(damaged)'") == "3"
    assert sample_app.psql("SELECT version_num FROM alembic_version") == "0001_customers"
    status, body = sample_app.get("/api/v1/healthz")
    assert status == 503
    assert json.loads(body)["version"] == "failing-migration"


@pytest.mark.docker
def test_destructive_migration_succeeds_but_code_is_unhealthy(sample_app: SampleApp) -> None:
    """destructive_migration_unhealthy_code() migrates, drops emails, and health answers 503."""
    sample_app.check_out(sample_app.destructive_migration_unhealthy_code())
    sample_app.compose_ok("build")
    sample_app.compose_ok("up", "-d")
    sample_app.compose_ok("exec", "-T", "api", "alembic", "upgrade", "head")
    assert "ada@example.com" not in sample_app.dump()
    status, body = sample_app.get("/api/v1/healthz")
    assert (status, json.loads(body)["reason"]) == (503, "schema lacks columns: customers.email")


@pytest.mark.docker
@pytest.mark.parametrize("hang", [False, True])
def test_never_healthy_code_never_answers_200(sample_app: SampleApp, hang: bool) -> None:
    """never_healthy() deploys and migrates cleanly, then health answers 503 (or nothing)."""
    sample_app.check_out(sample_app.never_healthy(hang=hang))
    sample_app.compose_ok("build")
    sample_app.compose_ok("up", "-d")
    sample_app.compose_ok("exec", "-T", "api", "alembic", "upgrade", "head")
    assert sample_app.first_version() == "never-healthy"
    status, body = sample_app.get("/api/v1/healthz", timeout=2)
    if hang:
        assert status == 0, body
    else:
        assert status == 503
        assert "feature_flags.id" in json.loads(body)["reason"]
