"""`deployhook backup | backups list|verify|restore | clone-data`: the database by hand."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

from config import Settings
from jobs.offsite.choosing import offsite_copies
from jobs.offsite.drill import drilled_targets
from jobs.offsite.drill import verify_backups as verify_backups_of
from jobs.operations import data
from jobs.operations.maintenance import Echo, find_backup, list_backups
from jobs.operations.targets import OperationError, parse_target
from webhook.operator.common import confirm, print_json, say, settings_and_redis


def backup(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    path = data.backup_now(settings, connection, args.target, _echo(args))
    print(path)
    return 0


def backups_list(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    found = list_backups(settings, args.target)
    copies = offsite_copies(settings, connection, args.target)
    if args.json:
        local = [{**backup.as_dict(), "where": "local"} for backup in found]
        print_json(local + [{**copy.as_dict(), "where": "offsite"} for copy in copies])
        return 0
    if not found:
        print(f"no backups of {args.target} on this host")
    for item in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item.mtime))
        print(f"{item.path.name}  {item.size:>12} bytes  {when}Z  {item.deploy_id or '-'}")
    if parse_target(settings, args.target).backups.offsite is None:
        return 0
    print(f"off-site ({len(copies)}):" if copies else "off-site: no copies yet")
    for copy in copies:
        print(f"{copy.short_id}  {copy.name}  {copy.time[:19]}Z  {copy.kind}  "
              f"{copy.deploy_id or '-'}")  # fmt: skip
    return 0


def backups_verify(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    path = data.verify(settings, connection, args.target, args.backup, _echo(args))
    print(f"{path}: OK")
    return 0


def backups_restore(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    chosen = args.backup or "the newest off-site backup"
    if not args.offsite:
        try:
            chosen = find_backup(settings, args.target, args.backup).path.name
        except OperationError:
            if not _offsite(settings, args.target):
                raise
            chosen = args.backup or chosen
    confirm(
        f"Restore {_database(settings, args.target)} of {args.target} from {chosen}? "
        "Its writers stop meanwhile, and everything written since the backup is replaced "
        "(the database as it is is kept first, in a verified dump beside the backups).",
        args.yes,
        f"refusing to restore {args.target} unconfirmed",
    )
    restored, safety = data.restore(
        settings, connection, args.target, args.backup, _echo(args), offsite=args.offsite
    )
    print(f"restored {restored.name} into {args.target}; the state before it is in {safety}")
    return 0


def clone_data(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    parse_target(settings, args.source)
    parse_target(settings, args.target)
    confirm(
        f"Overwrite the database {_database(settings, args.target)} of {args.target} with "
        f"{args.source}'s data? (the database as it is is kept first, in a verified dump)",
        args.yes,
        f"refusing to overwrite {args.target} unconfirmed",
    )
    used, safety = data.clone(
        settings, connection, args.source, args.target, args.fresh, _echo(args),
        snapshot=args.snapshot,
    )  # fmt: skip
    print(f"cloned {used.name} into {args.target}; its data before is in {safety}")
    return 0


def verify_backups(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    targets = [args.target] if args.target else drilled_targets(settings)
    if args.target:
        parse_target(settings, args.target)
    if not targets:
        raise OperationError("no environment has backups.offsite: nothing to drill")
    echo = _echo(args) if args.verbose else None
    results = [verify_backups_of(settings, connection, target, echo) for target in targets]
    if args.json:
        print_json([asdict(result) for result in results])
    else:
        for result in results:
            print(f"{result.target}: {result.summary()}")
    return 0 if all(result.ok for result in results) else 1


def _offsite(settings: Settings, target: str) -> bool:
    return parse_target(settings, target).backups.offsite is not None


def _database(settings: Settings, target: str) -> str:
    database = parse_target(settings, target).database
    return f"database {database.name}" if database else "the database"


def _echo(args: argparse.Namespace) -> Echo:
    return say if args.verbose else _quiet


def _quiet(line: str) -> None:
    # Without --verbose only the steps show, not every line a command printed.
    if not line[9:].startswith("  "):
        say(line)
