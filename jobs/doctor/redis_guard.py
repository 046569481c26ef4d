"""Is deployhook's Redis closed to strangers, and does it keep what it holds under pressure?

Whoever can write to this Redis can queue work for the worker, which drives Docker; so a TCP
Redis that answers without credentials, or a unix socket anyone may open, is a warning. An
evicting `maxmemory-policy` would drop locks, queued deploys and records when memory runs
short: only `noeviction` keeps them (history is bounded by its own retention instead). Jobs
the worker refused (jobs/state/rqjobs.py) are shown: someone wrote to this Redis who should
not have. The judges are pure and table-tested; `probe` asks a running Redis.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from jobs.doctor.check import Finding, fail, ok, skip, warn
from jobs.state import Connection, RedisError, ResponseError
from jobs.state.rqjobs import refused_jobs
from jobs.state.server import answers_anonymously, config_values, socket_path, tcp_address

TARGET = "deployhook"
FIX_AUTH = (
    "give Redis an ACL user with a password (or requirepass) and put it in redis.url "
    "(redis://USER:PASSWORD@HOST:PORT/0), or use a unix socket with mode 0660 (docs/security.md)"
)


def judge_anonymous(where: str, answered: bool) -> Finding:
    """A Redis that answered a PING without credentials is open to anyone who reaches it."""
    if answered:
        return warn(
            TARGET, "redis-auth",
            f"{where} answers without credentials: anyone who reaches it can queue work for "
            "the worker",
            FIX_AUTH,
        )  # fmt: skip
    return ok(TARGET, "redis-auth", f"{where} refuses connections without credentials")


def judge_socket_mode(path: str, mode: int) -> Finding:
    """A unix socket is as closed as its file mode: connecting needs write permission, so a
    socket others may write to is open to every local user (0660, 0755 or tighter are fine)."""
    if mode & 0o002:
        return warn(
            TARGET, "redis-auth",
            f"the socket {path} is open to every local user (mode {stat.S_IMODE(mode):04o})",
            "run redis-server with --unixsocketperm 660 (or 700)",
        )  # fmt: skip
    return ok(TARGET, "redis-auth", f"unix socket {path}, mode {stat.S_IMODE(mode):04o}")


def judge_eviction(policy: str | None) -> Finding:
    if policy is None:
        return warn(
            TARGET, "redis-memory", "maxmemory-policy unknown (CONFIG GET refused)",
            "make sure the provider runs Redis with maxmemory-policy noeviction",
        )  # fmt: skip
    if policy != "noeviction":
        return warn(
            TARGET, "redis-memory",
            f"maxmemory-policy {policy}: when memory runs short Redis drops keys, among them "
            "locks, queued deploys and their records",
            "CONFIG SET maxmemory-policy noeviction (and in redis.conf); history is bounded "
            "by history.keep_days and history.keep_deploys instead",
        )  # fmt: skip
    return ok(TARGET, "redis-memory", "maxmemory-policy noeviction")


def judge_refused(notes: list[dict[str, Any]]) -> Finding:
    if not notes:
        return ok(TARGET, "jobs", "no foreign job was found in the queues")
    newest = notes[0]
    return fail(
        TARGET, "jobs",
        f"the worker refused {len(notes)} job(s) it did not queue, newest {newest.get('job')}: "
        f"{newest.get('why')}",
        "someone wrote to deployhook's Redis: close it (redis-auth) and rotate its password",
    )  # fmt: skip


def probe(connection: Connection) -> list[Finding]:
    """Ask the running Redis behind `connection` (reachable: the persistence check said so)."""
    findings = [_access(connection)]
    try:
        try:
            policy = config_values(connection, "maxmemory-policy").get("maxmemory-policy") or None
        except ResponseError:
            policy = None
        findings += [judge_eviction(policy), judge_refused(refused_jobs(connection))]
    except RedisError:
        pass  # unreachable: the persistence check already failed and said how to fix it
    return findings


def _access(connection: Connection) -> Finding:
    """The socket's mode, or whether the server answers a client without credentials."""
    path = socket_path(connection)
    if path is not None:
        try:
            return judge_socket_mode(path, Path(path).stat().st_mode)
        except OSError as error:
            return warn(TARGET, "redis-auth", f"cannot stat {path}: {error.strerror}", "")
    try:
        host, port = tcp_address(connection)
    except RedisError as error:
        return skip(TARGET, "redis-auth", f"the master was not found ({type(error).__name__})")
    where = f"Redis at {host}:{port}"
    try:
        answered = answers_anonymously(connection, host, port)
    except RedisError as error:
        return skip(TARGET, "redis-auth", f"{where} did not answer ({type(error).__name__})")
    return judge_anonymous(where, answered)
