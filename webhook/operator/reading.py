"""`deployhook history | show | logs`: what deployed where, and how it went."""

from __future__ import annotations

import argparse
import sys

from jobs.operations.queueing import get_deploy
from jobs.operations.targets import parse_target
from jobs.state.records import DeployStore
from webhook.operator.common import print_json, settings_and_redis
from webhook.operator.follow import follow_log
from webhook.operator.render import history_line, show_text


def history(args: argparse.Namespace) -> int:
    settings, connection = settings_and_redis(args)
    target = None
    if args.target:
        target = parse_target(settings, args.target).target
    deploys = DeployStore(connection).history(target, limit=args.limit)
    if args.json:
        print_json([deploy.as_dict() for deploy in deploys])
    elif not deploys:
        print(f"no deploys of {target or 'any environment'} yet")
    else:
        print("\n".join(history_line(deploy) for deploy in deploys))
    return 0


def show(args: argparse.Namespace) -> int:
    _, connection = settings_and_redis(args)
    deploy = get_deploy(connection, args.deploy_id)
    store = DeployStore(connection)
    commands, log = store.commands(deploy.id), store.log(deploy.id)
    if args.json:
        print_json({**deploy.as_dict(), "commands": commands, "log": log})
    else:
        print(show_text(deploy, commands, log))
    return 0


def logs(args: argparse.Namespace) -> int:
    _, connection = settings_and_redis(args)
    deploy = get_deploy(connection, args.deploy_id)
    store = DeployStore(connection)
    if not args.follow:
        sys.stdout.write("".join(line + "\n" for line in store.log(deploy.id)))
        return 0
    final = follow_log(store, deploy.id)
    return 0 if final.state == "succeeded" else 1
