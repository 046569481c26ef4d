"""Does Redis keep what the intake acknowledged? A 202 is a promise only if it survives a crash.

`judge` is pure (table-tested) and reads Redis's own settings, as `CONFIG GET` answers them or
as the embedded server's argv sets them, so check-config can warn offline about the embedded
Redis and doctor can ask a running one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jobs.doctor.check import Finding, Status, fail, ok, warn
from jobs.state import Connection, RedisError, ResponseError
from jobs.state.server import config_values

TARGET = "deployhook"
CHECK = "redis"
FIX_AOF = "run redis-server with --appendonly yes --appendfsync always (or CONFIG SET both)"


def judge(settings: Mapping[str, str], where: str, fix: str = FIX_AOF) -> Finding:
    """How much an acknowledged delivery can lose, from appendonly, appendfsync and save."""
    appendonly = settings.get("appendonly", "no").lower() == "yes"
    fsync = settings.get("appendfsync", "everysec").lower()
    save = settings.get("save", "").strip()
    if appendonly and fsync == "always":
        return ok(TARGET, CHECK, f"{where}: append-only file, fsync on every write")
    if appendonly:
        loses = "up to a second of" if fsync == "everysec" else "whatever the OS had not written of"
        return warn(
            TARGET, CHECK,
            f"{where}: append-only file with appendfsync {fsync}: a power cut loses {loses} "
            "acknowledged deliveries",
            fix,
        )  # fmt: skip
    if save:
        return warn(
            TARGET, CHECK,
            f"{where}: snapshots only (save {save!r}), no append-only file: a crash loses every "
            "delivery since the last snapshot",
            fix,
        )  # fmt: skip
    return fail(
        TARGET, CHECK,
        f"{where}: persists nothing (appendonly no, no save rules): a restart loses every "
        "queued deploy, lock and history record",
        fix,
    )  # fmt: skip


def settings_from_argv(argv: Sequence[str]) -> dict[str, str]:
    """`--name value` pairs of a redis-server command line, as CONFIG GET would name them."""
    settings: dict[str, str] = {}
    for index, word in enumerate(argv):
        if word.startswith("--") and index + 1 < len(argv):
            settings[word[2:].lower()] = argv[index + 1]
    return settings


def probe(connection: Connection) -> Finding:
    """Ask a running Redis (the master, with Sentinel) for its persistence settings."""
    try:
        answers = config_values(connection, "appendonly", "appendfsync", "save")
    except ResponseError as error:  # managed Redis often refuses CONFIG
        return Finding(
            TARGET, CHECK, Status.WARN,
            f"Redis answers but will not show its settings ({error}): persistence unknown",
            "make sure the provider keeps an append-only file with fsync always",
        )  # fmt: skip
    except RedisError as error:
        return fail(
            TARGET, CHECK, f"cannot reach Redis ({type(error).__name__})",
            "start Redis, or check redis.url / DEPLOYHOOK_REDIS_URL / redis.sentinel",
        )  # fmt: skip
    return judge(answers, "Redis")
