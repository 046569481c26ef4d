"""The commit point: only after the health check passes is a deploy "last good"."""

from __future__ import annotations

import json
from pathlib import Path

import docker.errors

from jobs.compose.images import remove_old_commit_tags
from jobs.database.retention import apply_retention
from jobs.execution.context import DeployContext
from jobs.offsite.retention import forget_old_copies
from jobs.runbook.stages.build import TAG_PREFIX
from jobs.secrets.files import write_private
from jobs.state.keys import last_good as last_good_key
from jobs.state.lastgood import read_last_good, write_last_good
from jobs.state.records import utcnow
from jobs.swarm import is_swarm
from jobs.swarm.cleanup import remove_unused

__all__ = ["commit_point", "last_good_key", "last_good_path", "read_last_good"]

# Commit-tagged images kept per service, so that a rollback to a recent deploy needs no build.
KEEP_IMAGE_TAGS = 5


def last_good_path(state_dir: Path, project: str, environment: str) -> Path:
    return state_dir / "last-good" / project / f"{environment}.json"


def commit_point(ctx: DeployContext) -> None:
    deploy = ctx.deploy
    ctx.runner.guard()  # "last good" is a change too: only while this deploy holds the lock
    record = {
        "deploy_id": deploy.id,
        "sha": deploy.sha,
        "ref": f"{deploy.ref_kind} {deploy.ref_name}",
        "images": deploy.images,
        "image_names": ctx.built_images,
        "backup": ctx.backup,
        "at": utcnow(),
    }
    text = json.dumps(record, indent=2, sort_keys=True)
    _write_atomically(
        last_good_path(ctx.settings.state_dir, deploy.project, deploy.environment), text
    )
    write_last_good(ctx.store.redis, deploy.target, text)
    ctx.log.info(f"last good is now {deploy.sha[:12]} ({deploy.id})")
    if ctx.environment.database is not None:
        apply_retention(ctx, keep={b for b in [ctx.backup] if b})
        forget_old_copies(ctx)  # the same retention off-site (never raises)
    if is_swarm(ctx.environment):
        _remove_old_swarm_files(ctx)
    protect = set(deploy.images.values())
    removed = remove_old_commit_tags(ctx, TAG_PREFIX, KEEP_IMAGE_TAGS, protect)
    if removed:
        ctx.log.info(f"untagged old images: {', '.join(removed)}")


def _remove_old_swarm_files(ctx: DeployContext) -> None:
    """Best effort: the deploy succeeded; an old config left behind costs nothing but a line."""
    try:
        removed = remove_unused(ctx)
    except docker.errors.DockerException as error:
        ctx.log.info(f"old configs and secrets not removed: {error}")
        return
    if removed:
        ctx.log.info(f"removed old configs and secrets: {', '.join(removed)}")


def _write_atomically(path: Path, text: str) -> None:
    write_private(path, text.encode())  # 0600, fsynced, renamed into place
