"""`deployhook lock | unlock`: hold an environment's deploys, and let them run again."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from jobs.operations.maintenance import operator_name
from jobs.operations.targets import OperationError, parse_target
from jobs.state.operator_lock import LockConflict, lock_environment, unlock_environment
from webhook.operator.common import print_json, record_action, settings_and_redis

DEFAULT_REASON = "held from the command line"


def lock(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    target = parse_target(settings, args.target).target
    prefix = f"locked by {operator_name()} via CLI: "
    try:
        held = lock_environment(connection, target, args.reason or DEFAULT_REASON, prefix)
    except ValueError as error:
        raise OperationError(f"--reason: {error}") from None
    except LockConflict as error:
        raise OperationError(str(error)) from None
    record_action(connection, settings, "lock", target, held.reason or "")
    if args.json:
        print_json({"target": target, "lock": asdict(held)})
    else:
        print(f"{target} locked: {held.reason}")
        print(f"deploys queued meanwhile wait; `deployhook unlock {target}` runs the newest")
    return 0


def unlock(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    target = parse_target(settings, args.target).target
    try:
        previous, requeued = unlock_environment(connection, settings, target)
    except LockConflict as error:
        raise OperationError(str(error)) from None
    record_action(connection, settings, "unlock", target, ", ".join(requeued))
    if args.json:
        print_json({"target": target, "previous": asdict(previous), "requeued": requeued})
    elif previous.state == "free":
        print(f"{target} was not locked")
    else:
        print(f"{target} unlocked (was: {previous.reason})")
    if requeued and not args.json:
        print(f"queued again: {', '.join(requeued)} (the newest runs; older ones are superseded)")
    return 0
