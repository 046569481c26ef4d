"""Hooks on the real engine with the sample app: they run at their points (host, compose exec,
compose run), a failure before the change stops with nothing changed, one after it reverts, and
a failing after_revert hook is only reported."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.state.records import DeployStore
from tests.support.deploying import config_for, deploy
from tests.support.failures import assert_cause

pytestmark = pytest.mark.docker


def _settings(sample_app: Any, tmp_path: Path, redis_url: str, **hooks: Any) -> Settings:
    environment = {**sample_app.environment_config(), "hooks": hooks}
    return Settings.model_validate(config_for(environment, tmp_path / "state", redis_url))


def _after(argv: list[str], verb: str) -> list[str]:
    """The words after `verb` up to its first -e flag's value (argv of compose exec/run)."""
    if verb not in argv:
        return []
    rest = argv[argv.index(verb) + 1 :]
    return rest[: rest.index("-e") + 2] if "-e" in rest else rest


def _names(record: Any) -> list[str]:
    return [stage.name for stage in record.stages]


def test_hooks_run_at_their_points(
    sample_app: Any, redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """Host, exec and run hooks run in order around backup, migrate and health; output logged."""
    marker = tmp_path / "before-backup"
    settings = _settings(
        sample_app, tmp_path, redis_url,
        before_backup=[{"command": ["touch", str(marker)]}],
        after_migrate=[{"service": "api", "command": ["python3", "-c", "print('migrated, hi')"]}],
        after_health=[{"service": "api", "mode": "run", "timeout": 120,
                       "command": ["python3", "-c", "print('cache warmed; shell words: $HOME;')"]}],
    )  # fmt: skip
    record = deploy(settings, redis_conn, sample_app.good_change())
    assert record.state == "succeeded", record.error
    assert _names(record) == [
        "snapshot", "fetch", "before_backup hooks", "backup", "checkout", "build", "swap",
        "migrate", "after_migrate hooks", "health", "after_health hooks", "commit",
    ]  # fmt: skip
    assert marker.exists()
    assert sample_app.running_version() == "2"
    log = "\n".join(DeployStore(redis_conn).log(record.id))
    assert "   migrated, hi" in log
    assert "   cache warmed; shell words: $HOME;" in log  # no shell expanded it
    argvs = [command["argv"] for command in DeployStore(redis_conn).commands(record.id)]
    assert ["touch", str(marker)] in argvs
    facts = ["-e", f"DEPLOYHOOK_DEPLOY_ID={record.id}"]  # the first of the sorted -e flags
    assert any(_after(argv, "exec") == ["-T", *facts] and
               argv[-4:] == ["api", "python3", "-c", "print('migrated, hi')"]
               for argv in argvs)  # fmt: skip
    assert any(_after(argv, "run") == ["--rm", "--no-deps", "-T", *facts] and argv[-4:-2] ==
               ["api", "python3"] for argv in argvs)  # fmt: skip


def test_failing_hooks_stop_or_revert(
    sample_app: Any, redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """before_backup fails: nothing changed; after_health fails: reverted, after_revert runs."""
    sha = sample_app.good_change()
    stopped = deploy(
        _settings(sample_app, tmp_path, redis_url, before_backup=[{"command": ["false"]}]),
        redis_conn,
        sha,
    )
    assert stopped.state == "failed", stopped.error
    assert stopped.failed_stage == "before_backup hooks"
    assert_cause(stopped, "hook 1 failed")
    assert "nothing was changed" in (stopped.error or "")
    assert "backup" not in _names(stopped)
    assert sample_app.running_version() == "1"

    fail = [sys.executable, "-c", "raise SystemExit('cache warm failed')"]
    reverted = deploy(
        _settings(
            sample_app, tmp_path, redis_url,
            after_health=[{"command": fail}],
            after_revert=[
                {"service": "api", "command": ["python3", "-c", "print('paged the team')"]},
                {"command": ["false"]},
            ],
        ),
        redis_conn,
        sha,
    )  # fmt: skip
    assert reverted.state == "reverted", reverted.error
    assert reverted.failed_stage == "after_health hooks"
    assert "cache warm failed" in (reverted.error or "")
    assert_cause(reverted, "cache warm failed")
    assert "after_revert hooks: hook 2 failed" in (reverted.error or "")
    assert sample_app.running_version() == "1"
    assert sample_app.checked_out() != sha
    assert "   paged the team" in "\n".join(DeployStore(redis_conn).log(reverted.id))
