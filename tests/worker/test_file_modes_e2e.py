"""What the worker writes is private (backups 0600, state directory 0700, umask 077), while
the checkout its commands write stays readable, so the app's image can still read it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

from config import Settings
from jobs.runbook.stages.commit import last_good_path
from jobs.state.records import DeployStore
from tests.support.deploying import config_for, push, write_config
from tests.support.sample_app import SampleApp

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_worker_writes_private_files_and_readable_checkouts(
    sample_app: SampleApp, redis_conn: Redis, redis_url: str, tmp_path: Path
) -> None:
    """`deployhook worker` (the CLI, as systemd and the image run it) deploys: its backup is
    0600, its state directory 0700 and its last-good record 0600; the checked-out files are
    0644, as git makes them under the commands' umask 022."""
    state = tmp_path / "state"
    config = config_for(sample_app.environment_config(), state, redis_url)
    settings = Settings.model_validate(config)
    config_file = write_config(config, tmp_path / "deployhook.yml")
    sha = sample_app.commit({"NEW_FILE.txt": "written by the deploy's checkout\n"}, "a new file")
    queued = push(redis_conn, settings, sha)
    os.umask(0o022)  # a permissive parent: the worker must not depend on it
    subprocess.run(
        [sys.executable, "-m", "webhook.cli", "worker", "--burst", "--config", str(config_file)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
        timeout=600,
    )
    record = DeployStore(redis_conn).get(queued.id)
    assert record.state == "succeeded", record.error
    assert record.backup is not None
    assert _mode(Path(record.backup)) == 0o600
    assert _mode(state) == 0o700
    assert _mode(last_good_path(state, "sample", "dev")) == 0o600
    assert _mode(sample_app.checkout / "NEW_FILE.txt") == 0o644
