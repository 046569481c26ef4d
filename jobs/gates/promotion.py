"""The promotion gate: deploy a commit only after it succeeded in the named environments.

While the commit is still queued or running in a named environment (a push to main and a tag
on the same commit arrive together), the gate is pending and the deploy waits for that result.
"""

from __future__ import annotations

from config import Environment
from config.targets import target_of
from jobs.gates.checks import Verdict
from jobs.state.records import DeployStore

HISTORY_SCAN = 1000  # newest deploys of each source environment searched for the commit
WAIT_SECONDS = 3600.0  # longest wait for the commit's deploy upstream to finish
IN_PROGRESS = frozenset({"queued", "running"})


def promotion(store: DeployStore, environment: Environment, project: str, sha: str) -> Verdict:
    """green: `sha` succeeded in every named environment; pending: still deploying in one; red:
    not."""
    missing: list[str] = []
    deploying: list[str] = []
    for source in environment.promote_from:
        states = {
            record.state
            for record in store.history(target_of(project, source), limit=HISTORY_SCAN)
            if record.sha == sha
        }
        if "succeeded" in states:
            continue
        (deploying if states & IN_PROGRESS else missing).append(source)
    if missing:
        return Verdict(
            "red",
            f"commit {sha[:12]} has not succeeded in {', '.join(missing)} "
            "(promote_from); deploy it there first, or deploy by hand with --force REASON",
        )
    if deploying:
        return Verdict("pending", f"{sha[:12]} still deploying in {', '.join(deploying)}")
    return Verdict("green", f"succeeded in {', '.join(environment.promote_from)}")
