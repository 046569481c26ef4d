"""Choose what a rollback goes back to, and which backup takes the database back with it.

Pure functions over the environment's history (newest first), so the rules have table tests:
- `--to ID`: that deploy, which must have succeeded in this environment;
- otherwise, when the environment is not at its last good deploy (a revert failed since),
  the last good deploy; when it is, the newest earlier good deploy of another commit.
The database backup that undoes everything since the target is the one taken before the
oldest deploy after it that may have changed the database (succeeded or revert_failed).
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.operations.targets import OperationError
from jobs.state.ids import DEPLOY_ID, ID_HINT
from jobs.state.records import Deploy

CHANGED = ("succeeded", "revert_failed")


@dataclass(frozen=True)
class RollbackPlan:
    target: Deploy  # the deploy whose commit and images come back
    over: list[Deploy]  # deploys that may have changed things since, oldest first
    restore_backup: str | None  # the backup taken before the oldest of them, if any

    def describe(self) -> str:
        if not self.over:
            return f"{self.target.sha[:12]} ({self.target.id}) is already what runs"
        names = ", ".join(f"{d.sha[:12]} ({d.id})" for d in self.over)
        return f"back to {self.target.sha[:12]} ({self.target.id}), over {names}"


def plan_rollback(
    history: list[Deploy], last_good_id: str | None, to: str | None = None
) -> RollbackPlan:
    """Decide the rollback; `history` is the environment's deploys, newest first."""
    target = _named(history, to) if to else _default_target(history, last_good_id)
    newer = history[: history.index(target)]
    over = [deploy for deploy in reversed(newer) if deploy.state in CHANGED]
    backup = over[0].backup if over else None
    return RollbackPlan(target, over, str(backup) if backup else None)


def _named(history: list[Deploy], deploy_id: str) -> Deploy:
    if not DEPLOY_ID.match(deploy_id):
        raise OperationError(f"{deploy_id!r} is not a deploy id (expected {ID_HINT})")
    found = next((deploy for deploy in history if deploy.id == deploy_id), None)
    if found is None:
        raise OperationError(
            f"no deploy {deploy_id} in this environment's history: "
            "list them with `deployhook history <project>/<env>`"
        )
    if found.state != "succeeded":
        raise OperationError(
            f"deploy {deploy_id} ended {found.state}; only a succeeded deploy can be rolled back to"
        )
    return found


def _default_target(history: list[Deploy], last_good_id: str | None) -> Deploy:
    current = next((deploy for deploy in history if deploy.state in CHANGED), None)
    if current is None:
        raise OperationError("nothing was deployed here yet: there is nothing to roll back to")
    if current.state == "revert_failed" and last_good_id:
        return _named(history, last_good_id)
    earlier = history[history.index(current) + 1 :]
    found = next(
        (d for d in earlier if d.state == "succeeded" and d.sha != current.sha),
        None,
    )
    if found is None:
        raise OperationError(
            f"no good deploy before {current.id} with another commit: "
            "name one with --to <deploy id>, or deploy a ref with `deployhook deploy`"
        )
    return found
