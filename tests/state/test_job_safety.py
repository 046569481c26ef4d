"""Redis as an attacker would use it: jobs pushed past deployhook's intake are refused, unrun."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from config import load_settings
from jobs.state.records import DeployStore
from jobs.state.rqjobs import JOB_FUNCTION, refused_jobs
from jobs.state.submit import DeployRequest, Submitted, submit
from jobs.worker.start import run_worker

SECRETS = {"CRM_WEBHOOK_SECRET": "a-long-enough-webhook-secret"}


def test_worker_refuses_foreign_jobs_and_still_runs_deploys(
    redis_conn: redis.Redis,
    example_config_path: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Jobs naming os.system (pickled, as RQ's default writes them, or JSON) never run: each is
    deleted, logged as an error and noted for doctor, and the real deploy queued after them runs."""
    settings = load_settings(example_config_path, SECRETS)
    pickled, in_json = tmp_path / "pickled", tmp_path / "json"
    attacks = [
        Queue("deploys.local", connection=redis_conn).enqueue_call(
            "os.system", args=(f"touch {pickled}",)
        ),
        Queue("deploys.local", connection=redis_conn, serializer=JSONSerializer).enqueue_call(
            "os.system", args=(f"touch {in_json}",)
        ),
        Queue("deploys.local", connection=redis_conn, serializer=JSONSerializer).enqueue_call(
            JOB_FUNCTION, args=("not-a-deploy-id; id",)
        ),
    ]
    request = DeployRequest("crm", "dev", "branch", "main", "a" * 40, "github push")
    queued = submit(redis_conn, settings, [request])
    assert isinstance(queued, Submitted)
    with caplog.at_level(logging.ERROR, logger="deployhook.worker"):
        run_worker(settings, redis_conn, burst=True)
    assert not pickled.exists() and not in_json.exists()
    notes = {note["job"]: note["why"] for note in refused_jobs(redis_conn)}
    assert set(notes) == {job.id for job in attacks}
    assert "not deployhook's JSON" in notes[attacks[0].id]
    assert "'os.system'" in notes[attacks[1].id]
    assert "not one deploy id" in notes[attacks[2].id]
    refused_lines = [r.getMessage() for r in caplog.records if "refused job" in r.getMessage()]
    assert len(refused_lines) == 3
    assert not any(redis_conn.exists(job.key) for job in attacks)
    assert DeployStore(redis_conn).get(queued.deploys[0].id).state != "queued"
