"""Drive real deploys of the sample application: config, submission, and worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
import yaml

from config import Settings
from jobs.state.records import Deploy, DeployStore
from jobs.state.submit import DeployRequest, Submitted, submit
from jobs.worker.start import run_worker

SECRET = "sample-webhook-secret"


def config_for(environment: dict[str, Any], state_dir: Path, redis_url: str) -> dict[str, Any]:
    return {
        "state_dir": str(state_dir),
        "redis": {"url": redis_url},
        "projects": {
            "sample": {
                "repo": "example.com/acme/sample",
                "provider": "github",
                "secret": SECRET,
                "environments": {"dev": environment},
            }
        },
    }


def push(connection: redis.Redis, settings: Settings, sha: str, ref: str = "main") -> Deploy:
    """Queue a deploy of `sha` as a push to branch `ref` would."""
    request = DeployRequest("sample", "dev", "branch", ref, sha, "test push", sender="tester")
    result = submit(connection, settings, [request])
    assert isinstance(result, Submitted)
    return result.deploys[0]


def work(settings: Settings, connection: redis.Redis) -> None:
    """Run every queued deploy in this process, then return (RQ burst mode)."""
    run_worker(settings, connection, burst=True)


def deploy(settings: Settings, connection: redis.Redis, sha: str) -> Deploy:
    queued = push(connection, settings, sha)
    work(settings, connection)
    return DeployStore(connection).get(queued.id)


def write_config(config: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def start_worker_process(config_file: Path, log_file: Path) -> subprocess.Popen[bytes]:
    """A real worker in its own process (burst mode), as `deployhook worker` runs it."""
    code = (
        "import sys, redis\n"
        "from config import load_settings\n"
        "from jobs.worker.start import run_worker\n"
        "settings = load_settings(sys.argv[1])\n"
        "run_worker(settings, redis.Redis.from_url(settings.redis.url.reveal()), burst=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", code, str(config_file)], stdout=log, stderr=log, env=env
        )


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
