"""Path filters: deploy a push only when a file it changed since the live commit is watched.

Two places decide. The intake answers `ignored` only when the payload proves it: its `before`
is the live commit and its file lists are complete (`changed_files` is not None). Everything
else is queued and the worker decides after the fetch, with `git diff --name-only live sha`,
ending the deploy `skipped` ("no watched path changed") before the backup.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from config.globs import watched
from config.model import Environment
from jobs.commands.git import diff_names
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, NothingToDeploy
from jobs.state.lastgood import read_last_good

NO_WATCHED_CHANGE = "no watched path changed"
# Triggers an operator chose on purpose: never filtered by paths.
UNFILTERED_TRIGGERS = ("manual", "redeploy", "rollback")

Verdict = Literal["ignore", "queue"]


def intake_verdict(
    environment: Environment, live_sha: str | None, before: str, changed: list[str] | None
) -> Verdict:
    """`ignore` only when the payload proves no watched file changed since the live commit."""
    if environment.paths is None:
        return "queue"
    if live_sha is None or before != live_sha or changed is None:
        return "queue"  # unproven: the worker diffs after the fetch
    return "queue" if watched(environment.paths, changed) else "ignore"


def filters(ctx: DeployContext) -> bool:
    """Whether this deploy is subject to the environment's path filter."""
    return ctx.environment.paths is not None and ctx.deploy.trigger not in UNFILTERED_TRIGGERS


def check_watched_paths(ctx: DeployContext) -> None:
    """The worker's decision: raise NothingToDeploy when no watched path changed."""
    patterns = ctx.environment.paths or []
    last_good = read_last_good(ctx.store.redis, ctx.deploy.target)
    live = str(last_good["sha"]) if last_good and last_good.get("sha") else None
    if live is None:
        ctx.log.info("paths: nothing deployed yet, so every path counts as changed")
        return
    try:
        changed = changed_files(ctx, live)
    except CommandFailed as error:
        # Deploying is the safe side of a filter that cannot tell: log why and go on.
        ctx.log.info(f"paths: could not diff {live[:12]}..{ctx.deploy.sha[:12]}: {error}")
        ctx.log.info("paths: deploying, as a filter that cannot tell must not skip")
        return
    ctx.changed_files = changed
    hits = watched(patterns, changed)
    if not hits:
        raise NothingToDeploy(
            f"{NO_WATCHED_CHANGE} since the live commit {live[:12]} "
            f"({len(changed)} file(s) changed, none under {', '.join(patterns)})"
        )
    shown = ", ".join(hits[:5]) + (f" and {len(hits) - 5} more" if len(hits) > 5 else "")
    ctx.log.info(f"paths: watched files changed since {live[:12]}: {shown}")


def changed_files(ctx: DeployContext, live: str) -> list[str]:
    """`git diff --name-only live sha` in the checkout (after the fetch), through the runner."""
    argv = diff_names(ctx.environment.path, live, ctx.deploy.sha)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "names"
        ctx.runner.run(
            argv,
            timeout=ctx.environment.timeouts.fetch,
            stdout_path=out,
            quiet=True,
            read_only=True,
        )
        text = out.read_bytes().decode("utf-8", "surrogateescape")
    return [name for name in text.split("\0") if name]
