"""`deployhook`: run the intake, the worker or both, check the configuration, and the
operator's verbs (deploy, rollback, history, backups, locks).

This module only parses arguments and turns errors into messages and exit codes; each
command's work is in its own module (webhook/operator/: processes.py, check_config.py and a
module a verb group).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

from config import ConfigError
from jobs.failures.errors import DeployError
from jobs.state.records import RecordError
from webhook.operator.commands import add_operator_commands, lazy

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    except (DeployError, RecordError) as error:  # OperationError: a command cannot go on
        print(f"deployhook: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deployhook",
        description="Turn a signed git push into a safe Docker Compose deploy.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def add(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--config",
            metavar="FILE",
            help="configuration file (default: $DEPLOYHOOK_CONFIG)",
        )
        sub.set_defaults(run=run)
        return sub

    add(
        "check-config",
        lazy("check_config", "check_config"),
        "Validate the configuration and print a summary.",
    )
    serve_parser = add(
        "serve",
        lazy("processes", "serve"),
        "Run the webhook intake under gunicorn (needs redis.url, DEPLOYHOOK_REDIS_URL or "
        "redis.sentinel).",
    )
    _add_web_options(serve_parser)
    worker_parser = add(
        "worker", lazy("processes", "worker"), "Run a deploy worker on this host's queues."
    )
    worker_parser.add_argument(
        "--queue",
        action="append",
        metavar="Q",
        help="queue to work, e.g. deploys.local; repeat for more (default: every configured queue)",
    )
    worker_parser.add_argument(
        "--host",
        action="append",
        metavar="NAME",
        help="work the queue of this deploy host (environments' `host`); repeat for more",
    )
    worker_parser.add_argument(
        "--burst", action="store_true", help="exit once the queues are empty"
    )
    up_parser = add(
        "up",
        lazy("processes", "up"),
        "Run intake and worker together; start an embedded Redis when none is configured.",
    )
    _add_web_options(up_parser)
    add_operator_commands(add)
    return parser


def _add_web_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--bind", metavar="HOST:PORT", help="listen address (default: server.bind)")
    sub.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="gunicorn worker processes (default: server.workers)",
    )


def _version() -> str:
    try:
        return metadata.version("deployhook")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; run scripts/venv)"


if __name__ == "__main__":
    sys.exit(main())
