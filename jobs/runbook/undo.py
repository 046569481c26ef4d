"""The revert's own steps: each puts back one thing a failed deploy changed.

Which step runs after which failure, and in what order, is data (UNDO in
jobs/runbook/table.py); jobs/runbook/revert.py runs them. Each step raises when it fails; the
revert logs it and goes on with the next.
"""

from __future__ import annotations

from pathlib import Path

from jobs.compose.images import point_name_at, running_images, short_image
from jobs.database.restore import restore_database
from jobs.execution.context import DeployContext
from jobs.offsite.fetch import local_or_offsite
from jobs.runbook.stages.checkout import check_out
from jobs.runbook.stages.health import wait_healthy
from jobs.runbook.stages.pull import pin_previous
from jobs.runbook.stages.retiring import wait_gone
from jobs.runbook.stages.swap import swap
from jobs.secrets.decrypt import restore_previous
from jobs.swarm import is_swarm
from jobs.swarm.checks import running_images as swarm_running_images


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


def restore_backup(ctx: DeployContext) -> None:
    """This deploy's backup back in place; the database as it was is kept first.

    A host that lost the file (a disk, a hand, retention) fetches its off-site copy instead.
    """
    if not ctx.backup:
        raise RuntimeError("this deploy has no backup to restore")
    backup = Path(ctx.backup)
    local_or_offsite(ctx, backup)
    if not backup.is_file():
        raise RuntimeError(f"expected the backup {ctx.backup}, got no such file")
    # The old containers still draining (a failure while they drain) write too: gone first,
    # so that stopping the writers leaves no retirement half done.
    wait_gone(ctx)
    restore_database(ctx, backup)  # keeps the database as it is first, or does not restore


def stop_added_services(ctx: DeployContext) -> None:
    added = sorted(set(running_images(ctx)) - set(ctx.previous_images))
    if added:
        ctx.runner.run(ctx.compose.stop(added), timeout=ctx.environment.timeouts.swap)
        # Stopped on purpose: their exit codes and stale health must not fail the health check.
        retired = set(ctx.deploy.retired_services) | set(added)
        ctx.deploy.retired_services = sorted(retired)


def check_out_previous(ctx: DeployContext) -> None:
    check_out(ctx, str(ctx.previous_sha), "revert")


def decrypt_previous_secrets(ctx: DeployContext) -> None:
    restore_previous(ctx, str(ctx.previous_sha))


def retag_previous(ctx: DeployContext) -> None:
    # images: pull: the previous deploy's digests, not whatever its tag names in the registry now.
    pinned = set(pin_previous(ctx)) if ctx.environment.images == "pull" else set()
    for service, name in sorted(ctx.built_images.items()):
        if service in pinned:
            continue
        previous = ctx.previous_images.get(service)
        if previous:
            point_name_at(ctx, name, previous)


def start_previous(ctx: DeployContext) -> None:
    swap(ctx, "revert")


def previous_healthy(ctx: DeployContext) -> None:
    wait_healthy(ctx, "revert")


def check_previous_running(ctx: DeployContext) -> None:
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
