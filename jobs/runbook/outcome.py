"""How a deploy's stages are recorded and how a deploy ends when it does not succeed
(as data: `Ending`; the runbook writes it).

Shared by the runbook (jobs/runbook/pipeline.py) and the recovery of deploys a dead worker left
running (jobs/runbook/recovery.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from jobs.execution.context import DeployContext
from jobs.failures.errors import LockLost, NothingToDeploy, StageFailed
from jobs.report.text import database_note
from jobs.runbook.deploy_hooks import has_hooks, run_hooks
from jobs.runbook.revert import revert
from jobs.runbook.table import unchanged_note
from jobs.state.records import Outcome, StageRecord, State, utcnow

logger = logging.getLogger("deployhook.pipeline")
T = TypeVar("T")


def stage(ctx: DeployContext, name: str, action: Callable[[DeployContext], T]) -> T:
    """Run one stage, recording start, end and outcome; any error becomes StageFailed.

    LockLost passes through as it is: a deploy that lost its lock must not revert either.
    """
    entry = StageRecord(name=name, started_at=utcnow())
    ctx.deploy.stages.append(entry)
    ctx.save()
    ctx.log.info(f"== {name}")
    try:
        result = action(ctx)
    except NothingToDeploy as reason:  # e.g. no watched path changed: the deploy ends skipped
        _finish(ctx, entry, "skipped", str(reason))
        raise
    except StageFailed as raised:
        failure = raised.in_stage(name)  # the pipeline's stage, whichever helper raised it
        _finish(ctx, entry, "failed", str(failure))
        if failure is raised:
            raise
        raise failure from raised
    except LockLost as lost:
        _finish(ctx, entry, "failed", str(lost))
        raise
    except Exception as error:
        logger.exception("stage %s of %s raised", name, ctx.deploy.id)
        _finish(ctx, entry, "failed", f"{type(error).__name__}: {error}")
        raise StageFailed(name, f"{type(error).__name__}: {ctx.log.mask(str(error))}") from error
    _finish(ctx, entry, "ok", "")
    return result


def _finish(ctx: DeployContext, entry: StageRecord, outcome: Outcome, detail: str) -> None:
    entry.finished_at = utcnow()
    entry.outcome = outcome
    entry.detail = ctx.log.mask(detail)[:2000]
    ctx.save()


def revert_after(ctx: DeployContext, failure: StageFailed) -> Ending:
    """Revert after `failure`; how the deploy ends: reverted, failed (nothing running had
    changed) or revert_failed."""
    ctx.log.info(f"{failure.stage} failed: {failure}; reverting to {str(ctx.previous_sha)[:12]}")
    problems = stage(ctx, "revert", revert)
    final = "revert_failed" if problems else "reverted"
    after = after_revert_hooks(ctx, final)
    note = database_note(ctx.deploy, final=final)
    if problems:
        detail = "; ".join(problems)
        where = (
            f"{note}; kept copy {ctx.deploy.kept_database}"
            if ctx.deploy.restored_backup and ctx.deploy.kept_database
            else f"{note + '; ' if note else ''}backup to restore by hand: "
            f"{ctx.backup or 'none taken'}"
        )
        ending = failed(
            failure, "revert_failed", f"REVERT FAILED, needs a human: {detail}. {where}{after}"
        )
        return ending._replace(changes={**ending.changes, "revert_error": detail})
    unchanged = unchanged_note(failure.stage)
    if unchanged:
        # Nothing running had changed: the checkout and image names are back as they were.
        return failed(failure, "failed", f"{unchanged}{after}")
    database = f"; {note}" if note else ""
    return failed(failure, "reverted", f"reverted to {str(ctx.previous_sha)[:12]}{database}{after}")


def after_revert_hooks(ctx: DeployContext, outcome: str = "reverted") -> str:
    """Run the after_revert hooks as a stage; a failure is only reported: " (after_revert ...)"."""
    if not has_hooks(ctx, "after_revert"):
        return ""
    try:
        stage(ctx, "after_revert hooks", lambda ctx: run_hooks(ctx, "after_revert", outcome))
    except StageFailed as failed:
        ctx.log.info(f"after_revert hooks: {failed} (reported only; the outcome stands)")
        return f" (after_revert hooks: {failed})"
    return ""


class Ending(NamedTuple):
    """How a deploy ends, as data: jobs/runbook/pipeline.py `finish` writes it on the record."""

    state: State
    says: str  # the deploy log's line
    changes: dict[str, Any]  # the record's fields written with the state


def failed(failure: StageFailed, state: State, outcome: str) -> Ending:
    message = f"{failure.stage} failed: {failure} -> {outcome}"
    return Ending(
        state,
        message,
        {"error": message, "failed_stage": failure.stage, "failure": failure.failure.to_json()},
    )


def interrupted(stages: list[StageRecord], lost: LockLost) -> Ending:
    """A deploy that lost its lock: nothing more is changed, and it says who holds it."""
    where = next((entry.name for entry in reversed(stages)), "start")
    message = (
        f"INTERRUPTED during {where}: {lost}. This deploy changed nothing after that; the "
        "environment may run a mix of this and the previous version: check it"
    )
    changes = {"error": message, "failed_stage": where, "interrupted_by": lost.holder}
    return Ending("interrupted", message, changes)
