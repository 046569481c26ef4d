"""The operator verbs' argparse definitions; each verb's work is in its own module."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

Command = Callable[[argparse.Namespace], int]


def lazy(module: str, name: str) -> Command:
    """The verb `module.name`, imported when it runs: `serve` and `worker` start no slower."""

    def run(args: argparse.Namespace) -> int:
        verb: Command = getattr(importlib.import_module(f"webhook.operator.{module}"), name)
        return verb(args)

    return run


Add = Callable[..., argparse.ArgumentParser]
TARGET_HELP = "environment as project/environment, e.g. crm/prod"


def add_operator_commands(add: Add) -> None:
    """Register the operator verbs with `add(name, run, help)` (webhook.cli's helper)."""
    _deploys(add)
    _reading(add)
    _identity(add)
    _backups(add)
    sub = add(
        "doctor",
        lazy("doctor", "doctor"),
        "Check this host as a deploy would need it: one line a check, with its fix.",
    )
    sub.add_argument("target", nargs="?", help=TARGET_HELP + " (default: every environment)")
    sub.add_argument("--json", action="store_true", help="print JSON")
    for name, run, text in (
        (
            "lock",
            lazy("locking", "lock"),
            "Hold an environment: deploys queue up until it is unlocked.",
        ),
        (
            "unlock",
            lazy("locking", "unlock"),
            "Lift an operator lock and run the newest held deploy.",
        ),
    ):
        sub = add(name, run, text)
        sub.add_argument("target", help=TARGET_HELP)
        sub.add_argument("--json", action="store_true", help="print JSON")
        if name == "lock":
            sub.add_argument("--reason", metavar="TEXT", help="why, shown to everyone")


def _identity(add: Add) -> None:
    roles = ("viewer", "deployer", "admin")
    user = add("user", lazy("users", "user_list"), "Users who may sign in to the status page.")
    user.set_defaults(json=False)
    verbs = user.add_subparsers(title="user commands", metavar="VERB")
    sub = _verb(verbs, "add", "user_add", "add a user (asks for the password; stdin when piped)")
    sub.add_argument("name", help="the user name, e.g. alice or alice@example.com")
    sub.add_argument("--role", choices=roles, required=True, help="what the user may do")
    sub.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_argument("--no-password", action="store_true", help="tokens or SSO only")
    sub.add_argument("--replace", action="store_true", help="change an existing user")
    sub = _verb(verbs, "remove", "user_remove", "remove a user, their tokens and sessions")
    sub.add_argument("name", help="the user to remove")
    sub = _verb(verbs, "list", "user_list", "list users")
    sub.add_argument("--json", action="store_true", help="print JSON")
    token = add("token", lazy("users", "token_list"), "API tokens for scripts and the CLI.")
    verbs = token.add_subparsers(title="token commands", metavar="VERB")
    sub = _verb(verbs, "create", "token_create", "make a token for USER; it is printed once")
    sub.add_argument("user", help="whose token it is")
    sub.add_argument("--role", choices=roles, required=True, help="capped by the user's role")
    sub.add_argument("--label", metavar="TEXT", help="what it is for, e.g. ci")
    sub = _verb(verbs, "revoke", "token_revoke", "revoke a token by its id")
    sub.add_argument("token_id", help="the id `deployhook token list` shows")
    _verb(verbs, "list", "token_list", "list tokens")
    add(
        "audit",
        lazy("users", "audit_export"),
        "Print the audit log (sign-ins and operator actions) as JSON lines, oldest first.",
    )


def _verb(verbs: Any, name: str, function: str, help_text: str) -> argparse.ArgumentParser:
    """A verb of `user` or `token`; --config may also follow it (`user add NAME --config F`)."""
    sub: argparse.ArgumentParser = verbs.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(run=lazy("users", function))
    sub.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                     help="configuration file (default: $DEPLOYHOOK_CONFIG)")  # fmt: skip
    return sub


def _deploys(add: Add) -> None:
    sub = add(
        "deploy",
        lazy("deploying", "deploy"),
        "Deploy a branch, tag or commit by hand and follow it.",
    )
    sub.add_argument("target", help=TARGET_HELP)
    sub.add_argument("ref", nargs="?", help="branch, tag or full SHA (default: the trigger's)")
    _force(sub)
    _no_wait(sub)
    sub = add(
        "redeploy", lazy("deploying", "redeploy"), "Deploy the commit of an earlier deploy again."
    )
    sub.add_argument("deploy_id", help="a deploy id, e.g. d-20250101-120000-abcdef")
    _force(sub)
    _no_wait(sub)
    sub = add(
        "rollback",
        lazy("deploying", "rollback"),
        "Go back to an earlier good deploy from its kept images.",
    )
    sub.add_argument("target", help=TARGET_HELP)
    sub.add_argument(
        "--to", metavar="DEPLOY_ID", help="a succeeded deploy (default: the one before)"
    )
    sub.add_argument("--yes", action="store_true", help="restore the database without asking")
    sub.add_argument(
        "--keep-database", action="store_true", help="roll back the code only, never the database"
    )
    _no_wait(sub)


def _reading(add: Add) -> None:
    sub = add("history", lazy("reading", "history"), "List deploys, newest first.")
    sub.add_argument("target", nargs="?", help=TARGET_HELP + " (default: all)")
    sub.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (default 20)")
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub = add(
        "show", lazy("reading", "show"), "One deploy: stages, timings, error, commands and log."
    )
    sub.add_argument("deploy_id", help="a deploy id, e.g. d-20250101-120000-abcdef")
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub = add("logs", lazy("reading", "logs"), "Print a deploy's log; -f follows it until it ends.")
    sub.add_argument("deploy_id", help="a deploy id, e.g. d-20250101-120000-abcdef")
    sub.add_argument("-f", "--follow", action="store_true", help="follow until the deploy ends")


def _backups(add: Add) -> None:
    sub = add("backup", lazy("data", "backup"), "Take a database backup of an environment now.")
    sub.add_argument("target", help=TARGET_HELP)
    sub.add_argument("--verbose", action="store_true", help="show every command's output")
    group = add("backups", _need_action, "List, verify or restore an environment's backups.")
    actions = group.add_subparsers(title="actions", metavar="ACTION")
    for name, run, text in (
        ("list", lazy("data", "backups_list"), "Backups, newest first."),
        (
            "verify",
            lazy("data", "backups_verify"),
            "Check a backup is readable (default: the newest).",
        ),
        ("restore", lazy("data", "backups_restore"), "Restore a backup (default: the newest)."),
    ):
        sub = actions.add_parser(name, help=text, description=text)
        sub.set_defaults(run=run)
        # SUPPRESS: when not given here, a --config given before the action still counts.
        sub.add_argument(
            "--config",
            metavar="FILE",
            default=argparse.SUPPRESS,
            help="configuration file (default: $DEPLOYHOOK_CONFIG)",
        )
        sub.add_argument("target", help=TARGET_HELP)
        if name == "list":
            sub.add_argument("--json", action="store_true", help="print JSON")
            continue
        sub.add_argument(
            "backup", nargs="?", help="file name or off-site snapshot id from `backups list`"
        )
        sub.add_argument("--verbose", action="store_true", help="show every command's output")
        if name == "restore":
            sub.add_argument("--yes", action="store_true", help="restore without asking")
            sub.add_argument(
                "--offsite",
                action="store_true",
                help="take the backup from the off-site repository (default: the newest there)",
            )
    sub = add(
        "verify-backups",
        lazy("data", "verify_backups"),
        "Restore drill: restore the newest off-site backup into a throwaway database and check "
        "its tables, rows and schema.",
    )
    sub.add_argument("target", nargs="?", help=TARGET_HELP + " (default: every one off-site)")
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.add_argument("--verbose", action="store_true", help="show every command's output")
    sub = add(
        "clone-data", lazy("data", "clone_data"), "Copy one environment's database into another."
    )
    sub.add_argument("source", help="environment to copy from, e.g. crm/prod")
    sub.add_argument("target", help="environment to overwrite, e.g. crm/dev")
    sub.add_argument("--fresh", action="store_true", help="take a new backup of the source")
    sub.add_argument(
        "--snapshot",
        metavar="ID",
        help="the source's off-site copy to use: a snapshot id, a file name, or `latest`",
    )
    sub.add_argument("--yes", action="store_true", help="overwrite without asking")
    sub.add_argument("--verbose", action="store_true", help="show every command's output")


def _force(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--force",
        metavar="REASON",
        help="pass the release gates (promote_from, windows, wait_for_checks); the reason is "
        "recorded on the deploy and shown in every report",
    )


def _no_wait(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--no-wait", action="store_true", help="queue, print the id, return")


def _need_action(args: argparse.Namespace) -> int:
    raise SystemExit("deployhook backups: give an action: list, verify or restore")
