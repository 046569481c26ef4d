"""Is a webhook's commit newer than the one live in its environment? Asked twice.

The intake asks first, cheaply: the live commit is the environment's last-good record, and
when the checkout is on the intake's host a bounded `git merge-base --is-ancestor` says whether
the pushed commit is older. A replayed, redelivered or out-of-order delivery is then answered
200 "ignored" and queues nothing. The web tier may run on another host than the checkout, and
a commit not fetched yet cannot be judged there, so the worker asks again right after its fetch,
where the answer is certain: a stale deploy ends `superseded` before the backup, with nothing
changed. Manual deploys, redeploys and rollbacks are never refused: they are how an operator
goes back on purpose.
"""

from __future__ import annotations

from pathlib import Path

from config import Environment
from jobs.commands import git as git_commands
from jobs.commands.git_names import is_sha
from jobs.execution.context import DeployContext
from jobs.execution.runner import probe
from jobs.state import Connection
from jobs.state.lastgood import read_last_good
from jobs.state.records import Deploy, DeployStore, RecordError
from jobs.state.submit import delivery_seen, newest_queued

ALREADY_LIVE = "already live"
# Triggers an operator starts; every other trigger (webhooks, later polling) is checked.
OPERATOR_TRIGGERS = frozenset({"manual", "rollback"})
# The intake's git call must not hold a request up: a slow disk means "unknown", and the
# worker decides after its fetch.
INTAKE_GIT_TIMEOUT = 2.0


def older_than_live(live: str) -> str:
    return f"older than the live commit {live[:12]}; use deployhook rollback"


def live_commit(connection: Connection, target: str) -> str | None:
    """The commit of the environment's last good deploy, or None (never deployed, unreadable)."""
    try:
        record = read_last_good(connection, target)
    except ValueError:  # a malformed record proves nothing; never a 500 at the intake
        return None
    sha = record.get("sha") if isinstance(record, dict) else None
    return sha if is_sha(sha) else None


def stale_reason(sha: str, live: str | None, older: bool | None, allow_older: bool) -> str | None:
    """Why a webhook for `sha` deploys nothing, or None. `older`: is `sha` an ancestor of live?"""
    if live is None:
        return None
    if sha == live:
        return ALREADY_LIVE
    if older and not allow_older:
        return older_than_live(live)
    return None


def older_by_exit_code(code: int | None) -> bool | None:
    """`git merge-base --is-ancestor`: 0 older, 1 not; anything else (no such object): unknown."""
    return {0: True, 1: False}.get(code) if code is not None else None


def pending_deploy(connection: Connection, target: str) -> Deploy | None:
    """The newest deploy queued for the environment while it is still queued or running."""
    newest = newest_queued(connection, target)
    if newest is None:
        return None
    try:
        record = DeployStore(connection).get(newest)
    except RecordError:
        return None
    return record if record.state in ("queued", "running") else None


def intake_reason(
    connection: Connection, environment: Environment, target: str, sha: str, delivery: str | None
) -> str | None:
    """The intake's answer: Redis for the live commit, git only when the checkout is here.

    A commit older than one already queued (deliveries out of order before either deployed)
    is refused the same way: the queued one deploys its changes too. So is the queued commit
    itself under a new delivery id; the same delivery again is left to submit's dedupe, which
    answers `duplicate_of`.
    """
    live = live_commit(connection, target)
    if environment.allow_older:
        return stale_reason(sha, live, None, allow_older=True)
    reason = stale_reason(sha, live, _older(environment, sha, live), allow_older=False)
    if reason:
        return reason
    pending = pending_deploy(connection, target)
    if pending is None or not is_sha(pending.sha):
        return None
    if pending.sha == sha:
        seen = delivery is not None and delivery_seen(connection, delivery)
        return None if seen else f"already queued as {pending.id}"
    if _older(environment, sha, pending.sha):
        return f"older than the queued commit {pending.sha[:12]} ({pending.id})"
    return None


def _older(environment: Environment, sha: str, than: str | None) -> bool | None:
    """Is `sha` an ancestor of `than`, by the checkout on this host; None: cannot tell here."""
    if than is None or sha == than or not (Path(environment.path) / ".git").exists():
        return None
    argv = git_commands.is_ancestor(environment.path, sha, than)
    return older_by_exit_code(probe(argv, timeout=INTAKE_GIT_TIMEOUT))


def worker_reason(ctx: DeployContext) -> str | None:
    """After the fetch: why this webhook deploy must change nothing, or None to go on."""
    deploy, environment = ctx.deploy, ctx.environment
    if deploy.trigger in OPERATOR_TRIGGERS:
        return None
    live = live_commit(ctx.store.redis, deploy.target)
    if live is None or deploy.sha == live or environment.allow_older:
        return stale_reason(deploy.sha, live, None, environment.allow_older)
    argv = git_commands.is_ancestor(environment.path, deploy.sha, live)
    result = ctx.runner.run(argv, timeout=60, check=False, quiet=True, read_only=True)
    return stale_reason(deploy.sha, live, older_by_exit_code(result.exit_code), False)
