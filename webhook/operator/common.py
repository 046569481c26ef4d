"""What every operator verb needs: settings, a Redis connection, a yes/no question, JSON out."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from config import Settings, load_settings
from jobs.operations.maintenance import operator_name
from jobs.operations.targets import OperationError
from jobs.state import Connection, audit
from jobs.state.connection import Unreachable, reach


def settings_and_redis(args: argparse.Namespace) -> tuple[Settings, Connection]:
    settings = load_settings(args.config)
    try:
        return settings, reach(settings)
    except Unreachable as error:
        raise OperationError(str(error)) from None


def record_action(
    connection: Connection, settings: Settings, action: str, target: str, detail: str = ""
) -> None:
    """Put a CLI operator action in the audit log, as the web actions are."""
    entry = audit.AuditEntry(action, operator_name(), "cli", target=target, method="cli",
                             detail=detail)  # fmt: skip
    retention = settings.auth.audit
    audit.record(connection, entry, retention.keep_days, retention.max_entries)


def confirm(question: str, yes: bool, refusal: str) -> None:
    """Go on when --yes was given or the person at the terminal answers y; else refuse."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise OperationError(refusal + " (not a terminal: pass --yes to confirm)")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise OperationError(refusal + " (not confirmed)")


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def say(line: str) -> None:
    """Progress for the person: to stderr, so stdout stays the answer (an id, JSON)."""
    print(line, file=sys.stderr, flush=True)
