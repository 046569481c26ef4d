"""`deployhook deploy | redeploy | rollback`: queue a deploy by hand and follow it to the end."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from config import Settings
from jobs.offsite.choosing import offsite_copies
from jobs.operations.maintenance import operator_name
from jobs.operations.queueing import queue_deploy, queue_redeploy, queue_rollback, rollback_plan
from jobs.operations.targets import OperationError
from jobs.state import Connection
from jobs.state.environment import read_environment
from jobs.state.records import Deploy, DeployStore
from webhook.operator.common import confirm, record_action, say, settings_and_redis
from webhook.operator.follow import follow_stages
from webhook.operator.render import ref_text

QUIET_HINT_SECONDS = 30.0


def deploy(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    queued = queue_deploy(connection, settings, args.target, args.ref, operator_name(), args.force)
    record_action(connection, settings, "deploy", queued.target, queued.id)
    return _finish(connection, queued, args.no_wait)


def redeploy(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    queued = queue_redeploy(connection, settings, args.deploy_id, operator_name(), args.force)
    record_action(connection, settings, "redeploy", queued.target, queued.id)
    return _finish(connection, queued, args.no_wait)


def rollback(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    plan = rollback_plan(connection, settings, args.target, args.to)
    say(f"rollback of {args.target}: {plan.describe()}")
    restore = plan.restore_backup is not None and not args.keep_database
    if restore and plan.restore_backup is not None:
        backup = Path(plan.restore_backup)
        if not backup.is_file() and not _kept_offsite(settings, connection, args.target, backup):
            raise OperationError(
                f"the backup to restore, {backup}, is gone (retention?): roll back the code "
                "only with --keep-database, or restore another with `deployhook backups restore`"
            )
        database = settings.environment(plan.target.project, plan.target.environment).database
        confirm(
            f"The database {database.name if database else '?'} of {args.target} goes back to "
            f"{backup.name}: everything written since that backup is discarded (this "
            "rollback's own backup keeps it). Restore it?",
            args.yes,
            "refusing to restore the database unconfirmed; pass --yes to restore it, or "
            "--keep-database to roll back the code only",
        )
    queued = queue_rollback(connection, settings, plan, restore, operator_name())
    record_action(connection, settings, "rollback", queued.target, queued.id)
    return _finish(connection, queued, args.no_wait)


def _kept_offsite(settings: Settings, connection: Connection, target: str, backup: Path) -> bool:
    """Whether the off-site repository holds `backup` (the rollback's restore fetches it)."""
    if not any(copy.name == backup.name for copy in offsite_copies(settings, connection, target)):
        return False
    say(f"{backup.name} is not on this host: the rollback fetches it from off-site")
    return True


def _finish(connection: object, queued: Deploy, no_wait: bool) -> int:
    if no_wait:
        print(queued.id)
        return 0
    say(f"queued {queued.id}: {ref_text(queued)} ({queued.sha[:12]}) to {queued.target}")
    store = DeployStore(connection)  # type: ignore[arg-type]
    started = time.monotonic()
    told = False
    waiting: str | None = None

    def held(record: Deploy) -> bool:
        nonlocal told, waiting
        if record.state != "queued":
            return False
        if record.id in read_environment(store.redis, record.target).held:
            return True
        if record.waiting_for and record.waiting_for != waiting:
            waiting = record.waiting_for
            say(f"{record.id} is waiting for {waiting}")
            told = True  # the worker is there: it wrote this
        if not told and time.monotonic() - started > QUIET_HINT_SECONDS:
            say(f"still queued after {QUIET_HINT_SECONDS:.0f}s: is `deployhook worker` running?")
            told = True
        return False

    record = follow_stages(store, queued.id, stop=held)
    if record.state == "queued" and record.waiting_for:
        say(
            f"{record.id} is held: waiting for {record.waiting_for}; it runs then, or now with "
            f"`deployhook redeploy {record.id} --force REASON`"
        )
        return 1
    if record.state == "queued":
        say(
            f"{record.id} is held: {record.target} is locked by an operator; it runs after "
            f"`deployhook unlock {record.target}` (follow it with `deployhook logs -f {record.id}`)"
        )
        return 1
    if record.state != "succeeded":
        say(f"{record.id} {record.state}: {record.error or 'no error recorded'}")
        return 1
    say(f"{record.id} succeeded: {record.target} runs {record.sha[:12]}")
    return 0
