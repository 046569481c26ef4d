"""`deployhook user ...`, `deployhook token ...`, `deployhook audit`: who may use the web surface.

Users and token hashes live in the users file (auth.users_path, default <state_dir>/users.yml);
the web app reads it again when it changes, so no restart is needed. A token is printed once,
when it is made; only its hash is kept.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys

from config import ConfigError, Settings, load_settings
from jobs.operations.targets import OperationError
from jobs.state import RedisError, audit
from jobs.state.connection import Unreachable, reach
from webhook.auth.users import (
    USER_NAME,
    User,
    Users,
    UsersFileError,
    check_role,
    hash_password,
    new_token,
    read_users,
    write_users,
)
from webhook.operator.common import print_json, record_action, say


def _load(args: argparse.Namespace) -> tuple[Settings, Users]:
    settings = load_settings(args.config)
    try:
        return settings, read_users(settings.users_path())
    except UsersFileError as error:
        raise OperationError(str(error)) from None


def _save(settings: Settings, users: Users, action: str, target: str, detail: str = "") -> None:
    try:
        write_users(settings.users_path(), users)
    except OSError as error:
        raise OperationError(f"cannot write {settings.users_path()}: {error.strerror}") from None
    _audit(settings, action, target, detail)


def _audit(settings: Settings, action: str, target: str, detail: str = "") -> None:
    """Best effort: a users-file change is made even while Redis is down, and says so."""
    try:
        record_action(reach(settings, timeout=5), settings, action, target, detail)
    except (Unreachable, RedisError, ConfigError) as error:
        say(f"note: not recorded in the audit log ({type(error).__name__})")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise OperationError("the two passwords differ: nothing was changed")
    return first


def user_add(args: argparse.Namespace) -> int:
    settings, users = _load(args)
    if not re.fullmatch(USER_NAME, args.name):
        raise OperationError(f"{args.name!r}: use letters, digits and . _ @ + - (at most 100)")
    if args.name in users.users and not args.replace:
        raise OperationError(f"{args.name} exists: pass --replace to set a new role or password")
    try:
        check_role(args.role)
        hashed = None if args.no_password else hash_password(_password(args))
    except UsersFileError as error:
        raise OperationError(str(error)) from None
    users.users[args.name] = User(args.name, args.role, hashed)
    _save(settings, users, "user-add", args.name, args.role)
    say(f"{args.name} ({args.role}) can sign in at /login; users are in {settings.users_path()}")
    return 0


def user_remove(args: argparse.Namespace) -> int:
    settings, users = _load(args)
    if users.users.pop(args.name, None) is None:
        raise OperationError(f"no user {args.name}: `deployhook user list` shows them")
    gone = [token_id for token_id, token in users.tokens.items() if token.user == args.name]
    for token_id in gone:
        del users.tokens[token_id]
    _save(settings, users, "user-remove", args.name, f"{len(gone)} token(s) revoked")
    say(f"{args.name} removed with {len(gone)} token(s); their sessions end at once")
    return 0


def user_list(args: argparse.Namespace) -> int:
    _, users = _load(args)
    rows = [{"user": u.name, "role": u.role, "password": bool(u.password_hash),
             "tokens": sum(1 for t in users.tokens.values() if t.user == u.name)}
            for u in sorted(users.users.values(), key=lambda u: u.name)]  # fmt: skip
    if args.json:
        print_json(rows)
    for row in rows if not args.json else []:
        print(f"{row['user']}\t{row['role']}\t{'password' if row['password'] else 'no password'}"
              f"\t{row['tokens']} token(s)")  # fmt: skip
    return 0


def token_create(args: argparse.Namespace) -> int:
    settings, users = _load(args)
    try:
        token = new_token(users, args.user, args.role, args.label or "")
    except UsersFileError as error:
        raise OperationError(str(error)) from None
    token_id = token.split("_")[1]
    _save(settings, users, "token-create", args.user, f"{token_id} ({args.role})")
    say(f"token {token_id} for {args.user} ({args.role}); shown once, keep it in a secret store:")
    print(token)
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    settings, users = _load(args)
    token = users.tokens.pop(args.token_id, None)
    if token is None:
        raise OperationError(f"no token {args.token_id}: `deployhook token list` shows them")
    _save(settings, users, "token-revoke", token.user, args.token_id)
    say(f"token {args.token_id} of {token.user} revoked")
    return 0


def token_list(args: argparse.Namespace) -> int:
    _, users = _load(args)
    for token in sorted(users.tokens.values(), key=lambda t: (t.user, t.created)):
        print(f"{token.id}\t{token.user}\t{token.role}\t{token.created}\t{token.label}")
    return 0


def audit_export(args: argparse.Namespace) -> int:
    """Every kept audit entry, oldest first, one JSON object a line."""
    settings = load_settings(args.config)
    try:
        for entry in audit.export(reach(settings)):
            print(audit.to_line(entry))
    except Unreachable as error:
        raise OperationError(str(error)) from None
    return 0
