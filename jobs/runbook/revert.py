"""Put the previous version back after a failed deploy, step by step, never stopping early.

Order: restore the database only when it changed (the migrate stage's fingerprints differ, or
could not be compared, or the operator asked for a restore): stop the writers fast, keep the
database as it is, restore (jobs/database/restore.py); then return the checkout to the previous
commit, point image names back at the previous images, start them without a build (the
services whose image changed first, jobs/runbook/revert_start.py), then prove health and that the
previous images really run. A step that fails is logged and the rest still run; any failure
makes the outcome `revert_failed`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jobs.compose.images import point_name_at, running_images, short_image
from jobs.database.keep import dump_kept_aside
from jobs.database.restore import restore_database
from jobs.database.standby import discard
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, LockLost, StageFailed
from jobs.failures.finder import lines_that_matter
from jobs.offsite.fetch import local_or_offsite
from jobs.runbook.revert_start import start_changed_first
from jobs.runbook.stages.checkout import check_out
from jobs.runbook.stages.health import wait_healthy
from jobs.runbook.stages.pull import pin_previous
from jobs.runbook.stages.swap import swap
from jobs.secrets.decrypt import restore_previous
from jobs.swarm import is_swarm
from jobs.swarm.checks import running_images as swarm_running_images
from jobs.swarm.swap import start_previous as swarm_start_previous


def revert(ctx: DeployContext) -> list[str]:
    """Undo what the deploy changed; returns the problems (empty when fully reverted)."""
    problems: list[str] = []

    def attempt(step: str, action: Callable[[], object]) -> None:
        ctx.log.info(f"revert: {step}")
        try:
            action()
        except LockLost:
            raise  # another deploy owns the environment now: change nothing more
        except Exception as error:  # noqa: BLE001 - compensation keeps going and reports all
            detail = str(error)
            if isinstance(error, CommandFailed) and error.output_tail:
                detail += " (" + " | ".join(lines_that_matter(error.output_tail)) + ")"
            problems.append(f"{step}: {detail}")
            ctx.log.info(f"revert: {step} FAILED: {detail}")

    restore = must_restore(ctx)
    if restore and not ctx.backup:
        problems.append("restore database: this deploy has no backup to restore")
        restore = False
    if restore and ctx.backup and not Path(ctx.backup).is_file() and _offsite(ctx):
        # The host lost the file (a disk, a hand, retention): its off-site copy stands in.
        lost = Path(ctx.backup)
        attempt("fetch the backup from off-site", lambda: local_or_offsite(ctx, lost))
    if restore and ctx.backup and not Path(ctx.backup).is_file():
        problems.append(f"restore database: expected the backup {ctx.backup}, got no such file")
    elif restore and ctx.backup:
        backup = Path(ctx.backup)
        # Keeps the database as it is first; a restore that cannot keep it does not restore.
        attempt("restore database", lambda: restore_database(ctx, backup))
    elif ctx.deploy.database_change == "unchanged":
        ctx.log.info(f"revert: {UNCHANGED}")
    swarm = is_swarm(ctx.environment)  # a stack: the previous images are its services' specs
    if ctx.started("swap") and not swarm:
        attempt("stop services the failed version added", lambda: _stop_new_services(ctx))
    if ctx.started("checkout") and ctx.previous_sha:
        previous = ctx.previous_sha
        attempt("check out previous commit", lambda: check_out(ctx, previous, "revert"))
        if ctx.started("write secrets"):
            attempt(
                "decrypt the previous release's secrets", lambda: restore_previous(ctx, previous)
            )
    if ctx.started("build") and not swarm:
        attempt("point image names at the previous images", lambda: _retag_previous(ctx))
    if (ctx.started("swap") or restore) and swarm:
        attempt("deploy the previous images", lambda: swarm_start_previous(ctx))
    elif ctx.started("swap") or restore:
        # Serving sooner: the changed services alone, while the rest is proven ready.
        attempt("start the changed services first", lambda: start_changed_first(ctx))
        attempt("start the previous images", lambda: swap(ctx, "revert"))
    attempt("health check of the previous version", lambda: wait_healthy(ctx, "revert"))
    attempt("previous images are running", lambda: _check_previous_running(ctx))
    # Off the critical path: the previous version serves already. Neither step can fail the
    # revert; both say in the log and the record where the kept writes are.
    dump_kept_aside(ctx)
    discard(ctx)
    return problems


UNCHANGED = "database unchanged: not restored"


def must_restore(ctx: DeployContext) -> bool:
    stages = {stage.name for stage in ctx.deploy.stages}
    has_database = ctx.environment.database is not None
    return needs_restore(has_database, stages, ctx.deploy.database_change)


def needs_restore(has_database: bool, started: set[str], database_change: str | None) -> bool:
    """Restore when the migration changed the database or cannot be proven not to have.

    A rollback's own restore changed the database as much as a migration would; a migration
    that never reported (the worker died in it) counts as unknown.
    """
    if not has_database:
        return False
    if "restore" in started:
        return True
    return "migrate" in started and database_change != "unchanged"


def wants_restore(ctx: DeployContext) -> bool:
    """A rollback the operator asked to take the database back too (`restore_backup`)."""
    return bool(ctx.deploy.restore_backup) and ctx.environment.database is not None


def restore_requested(ctx: DeployContext) -> None:
    """Stop the writers, restore the chosen backup, start them again (after the swap)."""
    backup = local_or_offsite(ctx, Path(str(ctx.deploy.restore_backup)))
    if not backup.is_file():
        raise StageFailed("restore", f"expected the backup {backup} to exist, got no such file")
    ctx.log.info(f"restoring {backup}: the writes made since it was taken are kept aside first")
    restore_database(ctx, backup)
    swap(ctx, "restore")


def _offsite(ctx: DeployContext) -> bool:
    return ctx.environment.backups.offsite is not None


def _stop_new_services(ctx: DeployContext) -> None:
    added = sorted(set(running_images(ctx)) - set(ctx.previous_images))
    if added:
        ctx.runner.run(ctx.compose.stop(added), timeout=ctx.environment.timeouts.swap)
        # Stopped on purpose: their exit codes and stale health must not fail the health check.
        retired = set(ctx.deploy.retired_services) | set(added)
        ctx.deploy.retired_services = sorted(retired)


def _retag_previous(ctx: DeployContext) -> None:
    # images: pull: the previous deploy's digests, not whatever its tag names in the registry now.
    pinned = set(pin_previous(ctx)) if ctx.environment.images == "pull" else set()
    for service, name in sorted(ctx.built_images.items()):
        if service in pinned:
            continue
        previous = ctx.previous_images.get(service)
        if previous:
            point_name_at(ctx, name, previous)


def _check_previous_running(ctx: DeployContext) -> None:
    # A swarm: each service's spec names the image (digest included) it ran before the deploy.
    now = swarm_running_images(ctx) if is_swarm(ctx.environment) else running_images(ctx)
    wrong = [
        f"{service}: expected {short_image(image)}, "
        f"got {short_image(now.get(service, '')) or 'nothing'}"
        for service, image in sorted(ctx.previous_images.items())
        if now.get(service) != image
    ]
    if wrong:
        raise RuntimeError("not the previous images: " + "; ".join(wrong))
