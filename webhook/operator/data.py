"""`deployhook backup | backups list|verify|restore | clone-data`: the database by hand."""

from __future__ import annotations

import argparse
import time

from config import Settings
from jobs.operations import data
from jobs.operations.maintenance import Echo, find_backup, list_backups
from jobs.operations.targets import parse_target
from webhook.operator.common import confirm, print_json, say, settings_and_redis


def backup(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    path = data.backup_now(settings, connection, args.target, _echo(args))
    print(path)
    return 0


def backups_list(args: argparse.Namespace) -> int:
    settings, _ = settings_and_redis(args)
    found = list_backups(settings, args.target)
    if args.json:
        print_json([backup.as_dict() for backup in found])
        return 0
    if not found:
        print(f"no backups of {args.target} yet")
    for item in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item.mtime))
        print(f"{item.path.name}  {item.size:>12} bytes  {when}Z  {item.deploy_id or '-'}")
    return 0


def backups_verify(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    path = data.verify(settings, connection, args.target, args.backup, _echo(args))
    print(f"{path}: OK")
    return 0


def backups_restore(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    chosen = find_backup(settings, args.target, args.backup)
    confirm(
        f"Restore {_database(settings, args.target)} of {args.target} from {chosen.path.name}? "
        "Its writers stop meanwhile, and everything written since the backup is replaced "
        "(the database as it is is kept first, in a verified dump beside the backups).",
        args.yes,
        f"refusing to restore {args.target} unconfirmed",
    )
    restored, safety = data.restore(settings, connection, args.target, args.backup, _echo(args))
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
        settings, connection, args.source, args.target, args.fresh, _echo(args)
    )
    print(f"cloned {used.name} into {args.target}; its data before is in {safety}")
    return 0


def _database(settings: Settings, target: str) -> str:
    database = settings.environment(*parse_target(settings, target)).database
    return f"database {database.name}" if database else "the database"


def _echo(args: argparse.Namespace) -> Echo:
    return say if args.verbose else _quiet


def _quiet(line: str) -> None:
    # Without --verbose only the steps show, not every line a command printed.
    if not line[9:].startswith("  "):
        say(line)
