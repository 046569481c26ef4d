"""The promotion gate: deploy a commit only after it succeeded in the named environments."""

from __future__ import annotations

from config import Environment
from jobs.record import Deploy, DeployStore

HISTORY_SCAN = 1000  # newest deploys of each source environment searched for the commit


def unpromoted(store: DeployStore, environment: Environment, deploy: Deploy) -> str | None:
    """Why `deploy` may not run yet (the environments its commit has not succeeded in), or None."""
    missing = [
        source
        for source in environment.promote_from
        if not succeeded_in(store, f"{deploy.project}/{source}", deploy.sha)
    ]
    if not missing:
        return None
    return (
        f"commit {deploy.sha[:12]} has not succeeded in {', '.join(missing)} "
        f"(promote_from); deploy it there first, or deploy by hand with --force REASON"
    )


def succeeded_in(store: DeployStore, target: str, sha: str) -> bool:
    return any(
        record.sha == sha and record.state == "succeeded"
        for record in store.history(target, limit=HISTORY_SCAN)
    )
