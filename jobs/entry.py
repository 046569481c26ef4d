"""The function RQ runs for every deploy job: `jobs.entry.run_deploy(deploy_id)`."""

from __future__ import annotations

from rq import get_current_job

from jobs.worker import runtime


def run_deploy(deploy_id: str) -> str:
    from jobs.runbook.pipeline import deploy

    job = get_current_job()
    if job is None:
        raise RuntimeError("run_deploy must run inside an RQ job")
    return deploy(deploy_id, runtime.settings(), job.connection)
