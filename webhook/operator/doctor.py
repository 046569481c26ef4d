"""`deployhook doctor [PROJECT/ENV]`: is this host ready to deploy? One line a check, each
with its fix; exit 1 when any check fails, so scripts and CI can gate on it."""

from __future__ import annotations

import argparse
from pathlib import Path

from config import Settings, load_settings
from jobs.doctor import Finding, Status, examine, persistence, redis_guard, replication
from jobs.operations.targets import parse_target
from jobs.state.connection import EMBEDDED_SOCKET, connect
from webhook.embedded_redis import server_argv
from webhook.operator.common import print_json

DOCTOR_REDIS_TIMEOUT = 5.0


def doctor(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if args.target:
        environments = [parse_target(settings, args.target)]
    else:
        environments = settings.every_environment()
    findings = [*check_redis(settings), *examine(settings, environments)]
    failed = [finding for finding in findings if finding.status == Status.FAIL]
    warned = [finding for finding in findings if finding.status == Status.WARN]
    if args.json:
        print_json({"ok": not failed, "checks": [finding.as_json() for finding in findings]})
    else:
        for finding in findings:
            print(finding.line())
        verdict = "ready to deploy" if not failed else f"{len(failed)} check(s) failed"
        print(f"{verdict}; {len(warned)} warning(s)")
    return 1 if failed else 0


def check_redis(settings: Settings) -> list[Finding]:
    """The Redis the intake and worker use: configured, else the running embedded one, else
    what the embedded one would keep (known without starting it). With replicas: the
    sentinels and the replicas too. Then who may reach it, what it evicts and the foreign jobs
    the worker refused (jobs/doctor/redis_guard.py)."""
    if not settings.redis.configured and not (settings.state_dir / EMBEDDED_SOCKET).exists():
        return [embedded_finding()]
    connection = connect(settings, timeout=DOCTOR_REDIS_TIMEOUT)
    try:
        findings = [persistence.probe(connection)]
        if findings[0].status == Status.FAIL and "reach" in findings[0].detail:
            return findings  # nothing more to ask of a master that does not answer
        return findings + replication.check(settings, connection) + redis_guard.probe(connection)
    finally:
        connection.close()


def embedded_finding() -> Finding:
    """What the embedded Redis of `deployhook up` keeps, read from its command line."""
    argv = server_argv(Path("redis-server"), Path("."), Path("redis.sock"))
    fix = "set redis.url to a Redis run with --appendonly yes --appendfsync always"
    return persistence.judge(persistence.settings_from_argv(argv), "the embedded Redis", fix)
