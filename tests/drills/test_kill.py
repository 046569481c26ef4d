"""Drill: the worker is SIGKILLed inside each stage; the next worker start finishes it truthfully.

Killed before anything changed (backup) the deploy ends `failed`; killed after (checkout on)
it ends `reverted`: previous commit, previous images, database as before. Killed in the
migration rehearsal (migrate.rehearse, after the build) it ends `failed`, as a failed rehearsal
does: nothing running had changed, the checkout and image names are put back, the same
containers run and no throwaway container is left. Either way the lock is free, no
half-written backup is left, and the reports end with that state.

The drills share one sample app (tests/support/lent_app.py): each ends it where it started,
which its own asserts check, and the lender checks again before the next drill takes it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.commands import rehearsal
from jobs.state.locks import current_owner
from jobs.state.records import DeployStore
from jobs.worker.start import STOP_SECONDS
from tests.support import drills
from tests.support.commands import run
from tests.support.deploying import push, start_worker_process, wait_for, write_config
from tests.support.failures import assert_cause
from tests.support.provider_server import WEBHOOK, ProviderServer
from tests.support.sample_app import SampleApp

pytestmark = pytest.mark.docker
LEFT_BEHIND = r"SELECT datname FROM pg_database WHERE datname LIKE 'app\_\_dh\_%'"


@pytest.fixture
def sample_app(lent_sample_app: SampleApp) -> SampleApp:
    """The module's one app, at v1: every drill leaves it so (conftest's config takes it too)."""
    return lent_sample_app


@dataclass
class Drill:
    """How to hold the deploy in `stage`, and what the recovery must end with."""

    stage: str
    expected: str
    # Arranges the hold (entering the stack where it needs cleaning up), returns the sha to push.
    arrange: Callable[[Any, ExitStack], str]
    # True once the deploy is held inside the stage, ready to be killed.
    held: Callable[[Any, DeployStore, str], bool] = lambda app, store, deploy_id: True
    rehearse: bool = False  # the environment rehearses its migration (migrate.rehearse)
    name: str = ""  # the test id, when the stage alone does not tell drills apart
    # SIGTERM (a service manager's stop) must end the same way as SIGKILL, within the bound.
    sig: signal.Signals = signal.SIGKILL
    # What else the kill leaves behind, done right after it (a service manager that kills the
    # worker's whole control group kills its git too, mid-checkout).
    after_kill: Callable[[Any], None] | None = None
    # The killed worker's heartbeat runs out on its own (up to 30 s) instead of in a second:
    # one drill proves that a worker started at once still waits for it and recovers.
    natural_expiry: bool = False
    # What the drill leaves on purpose, taken away once checked: the next drill takes the app.
    tidy: Callable[[Any], None] | None = None


def _backup(app: Any, stack: ExitStack) -> str:
    stack.enter_context(drills.table_locked(app, "ACCESS EXCLUSIVE"))  # pg_dump waits for it
    return str(app.good_change())


def _git_killed_too(app: Any) -> None:
    # The lock a git killed inside `git checkout` leaves; the recovery's own checkout of the
    # previous commit failed on it ("index.lock: File exists") in a CI run.
    (app.checkout / ".git" / "index.lock").write_text("")


def _checkout(app: Any, stack: ExitStack) -> str:
    sha = str(app.good_change())
    drills.hold_checkout(app.checkout, sha)
    return sha


_build_word: dict[str, str] = {}


def _build(app: Any, stack: ExitStack) -> str:
    sha, _build_word[app.project] = drills.slow_build(app)
    return sha


def _build_with_standby(app: Any, stack: ExitStack) -> str:
    # A role that may create databases: the backup is being restored into a standby in the
    # background while the build runs (jobs/database/standby.py). The dead worker's standby
    # must not outlive the recovery.
    app.psql_as_superuser("ALTER ROLE app CREATEDB")
    stack.callback(app.psql_as_superuser, "ALTER ROLE app NOCREATEDB")
    return _build(app, stack)


def _build_held(app: Any, store: DeployStore, deploy_id: str) -> bool:
    return drills.build_step_running(_build_word[app.project])


def _swap_held(app: Any, store: DeployStore, deploy_id: str) -> bool:
    return "gate" in app.container_ids()


def _rehearsal_held(app: Any, store: DeployStore, deploy_id: str) -> bool:
    """The slow migration sleeps in the rehearsal's migration container, beside its database."""
    return len(_rehearsal_containers(app, "--filter", f"label={rehearsal.LABEL}={deploy_id}")) == 2


def _rehearsal_containers(app: Any, *filters: str) -> list[str]:
    """Names of running rehearsal containers (or with "--all", of any), on the test engine."""
    argv = ["docker", "ps", "--filter", f"label={rehearsal.LABEL}", *filters]
    return run([*argv, "--format", "{{.Names}}"], env=app.engine.env).stdout.split()


def _revert(app: Any, stack: ExitStack) -> str:
    # The failed migration's revert restores the database; DROP OWNED waits for this lock.
    stack.enter_context(drills.table_locked(app, "ACCESS SHARE"))
    return str(app.failing_migration())


DRILLS = [
    Drill("backup", "failed", _backup, natural_expiry=True),
    Drill("checkout", "reverted", _checkout),
    Drill(
        "checkout", "reverted", _checkout, name="checkout-git-killed", after_kill=_git_killed_too
    ),
    Drill("build", "reverted", _build, _build_held),
    Drill("build", "reverted", _build_with_standby, _build_held, name="build-with-standby"),
    Drill("build", "reverted", _build, _build_held, name="build-sigterm", sig=signal.SIGTERM),
    Drill(
        "rehearse",
        "failed",
        lambda app, stack: drills.slow_migration(app),
        _rehearsal_held,
        rehearse=True,
    ),
    # The revert stops the gate service the failed release added and keeps its container
    # (exited 137); the next drills' health checks would see it exited (jobs/runbook/undo.py).
    Drill(
        "swap",
        "reverted",
        lambda app, stack: drills.slow_swap(app),
        _swap_held,
        tidy=drills.remove_gate,
    ),
    Drill("migrate", "reverted", lambda app, stack: drills.slow_migration(app)),
    Drill("health", "reverted", lambda app, stack: str(app.never_healthy(hang=True))),
    Drill("revert", "reverted", _revert),
]


@contextmanager
def _killed_in(drill: Drill, app: Any, settings: Settings, conn: redis.Redis, config_file: Path,
               logs: Path) -> Iterator[str]:  # fmt: skip
    """Push, hold the deploy in the drill's stage, signal its worker; yield the deploy id."""
    store = DeployStore(conn)
    with ExitStack() as stack:
        queued = push(conn, settings, drill.arrange(app, stack))
        worker = start_worker_process(config_file, logs / "w1.log")
        try:
            wait_for(
                lambda: (
                    drills.last_stage(store, queued.id) == drill.stage
                    and drill.held(app, store, queued.id)
                ),
                240,
                f"the deploy to be held in {drill.stage}",
            )
        finally:
            os.kill(worker.pid, drill.sig)
            code = worker.wait(timeout=STOP_SECONDS)  # the promised bound, for SIGTERM too
            if drill.after_kill is not None:
                drill.after_kill(app)
            if not drill.natural_expiry:
                drills.heartbeat_runs_out(store, queued.id)
        if drill.sig == signal.SIGTERM:
            assert code == 0, (logs / "w1.log").read_text()[-3000:]
            assert drills.log_mentions(store, queued.id, "got SIGTERM during build: left as it")
    yield queued.id


@pytest.mark.parametrize("drill", DRILLS, ids=[drill.name or drill.stage for drill in DRILLS])
def test_worker_killed_in_a_stage_is_finished_by_the_next_start(
    drill: Drill,
    sample_app: Any,
    settings: Settings,
    config: dict[str, Any],
    redis_conn: redis.Redis,
    provider: ProviderServer,
    tmp_path: Path,
) -> None:
    """SIGKILL in each stage: the next worker start ends it failed/reverted, all as before."""
    if drill.rehearse:
        config["projects"]["sample"]["environments"]["dev"]["migrate"]["rehearse"] = True
        settings = Settings.model_validate(config)
    before_sha, before_dump = sample_app.checked_out(), sample_app.dump()
    before_images, before_containers = sample_app.image_ids(), sample_app.container_ids()
    env_file = (sample_app.checkout / ".env").read_text()
    config_file = write_config(config, tmp_path / "c.yml")
    store = DeployStore(redis_conn)
    with _killed_in(drill, sample_app, settings, redis_conn, config_file, tmp_path) as deploy_id:
        assert store.get(deploy_id).state == "running"
        recovery = start_worker_process(config_file, tmp_path / "w2.log")
        assert recovery.wait(timeout=300) == 0, (tmp_path / "w2.log").read_text()[-3000:]
    (sample_app.checkout / ".git" / "hooks" / "post-checkout").unlink(missing_ok=True)  # its hold
    record = store.get(deploy_id)
    assert record.state == drill.expected, record.error
    assert f"the worker stopped during {drill.stage}" in (record.error or "")
    assert record.failed_stage == drill.stage
    assert_cause(record, f"the worker stopped during {drill.stage}")
    assert current_owner(redis_conn, record.target) is None
    assert sample_app.checked_out() == before_sha
    assert sample_app.running_version() == "1"
    assert sample_app.image_ids() == before_images
    assert sample_app.dump() == before_dump
    assert (sample_app.checkout / ".env").read_text() == env_file and sample_app.volume_exists()
    assert not list(sample_app.backups_dir.glob("*.partial"))
    assert drills.deploy_commands_alive(sample_app.project) == []
    assert sample_app.psql(LEFT_BEHIND) == ""  # no standby or kept database a worker made
    assert _rehearsal_containers(sample_app, "--all") == []
    if drill.expected == "failed":  # nothing running had changed: not even a restart
        assert "nothing was changed" in (record.error or "")
        assert sample_app.container_ids() == before_containers
    built = record.image_names.get("api")
    if built:  # a killed build or swap must not leave the name on the new image
        assert sample_app.image_of(built) == before_images["api"]
    events = [s.body for s in provider.to(WEBHOOK) if s.body["deploy"]["id"] == deploy_id]
    assert events and events[-1]["event"] == drill.expected, [e["event"] for e in events]
    assert events[-1]["deploy"]["failed_stage"] == drill.stage
    assert f"the worker stopped during {drill.stage}" in events[-1]["deploy"]["error"]
    if drill.rehearse:  # the rehearsal never finished: no time is reported for it
        assert record.rehearsal_seconds is None
        assert drills.log_mentions(store, deploy_id, "rehearsal removed")
    if drill.tidy is not None:
        drill.tidy(sample_app)
