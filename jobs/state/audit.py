"""The audit log: every login, failed login and operator action, who, what, when, from where.

A Redis stream: entries are appended with their time as id, so trimming by age (`MINID`) and by
count (`MAXLEN`) happens on every write, and the newest are read back first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis

from jobs.state.keys import AUDIT
from jobs.state.records import utcnow
from jobs.state.redistext import as_text

DAY_MS = 86_400_000
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class AuditEntry:
    action: str  # login, login-failed, logout, deploy, rollback, lock, unlock, token-...
    actor: str  # the user name, or what was typed for a failed login
    address: str  # where the request came from
    outcome: str = "ok"  # ok, refused, failed, or an HTTP status
    target: str = ""  # project/environment or deploy id the action was about
    method: str = ""  # password, oidc, header, token, cli
    role: str = ""
    detail: str = ""
    at: str = ""

    @classmethod
    def from_fields(cls, fields: dict[Any, Any]) -> AuditEntry:
        raw = json.loads(as_text(fields.get(b"entry") or fields.get("entry") or "{}"))
        known = {name: str(raw[name]) for name in cls.__dataclass_fields__ if name in raw}
        return cls(**{"action": "?", "actor": "?", "address": "?", **known})


def record(connection: Redis, entry: AuditEntry, keep_days: int, max_entries: int) -> None:
    """Append `entry` (stamped now) and drop what is past the retention."""
    stamped = entry if entry.at else AuditEntry(**{**asdict(entry), "at": utcnow()})
    oldest = int(time.time() * 1000) - keep_days * DAY_MS
    pipe = connection.pipeline(transaction=False)
    # Exact trims: audit rates are tiny, and "kept 90 days" should mean exactly that.
    pipe.xadd(AUDIT, {"entry": json.dumps(asdict(stamped))}, maxlen=max_entries, approximate=False)
    pipe.xtrim(AUDIT, minid=str(oldest), approximate=False)
    pipe.execute()


def newest(connection: Redis, count: int) -> list[AuditEntry]:
    found: list[tuple[Any, dict[Any, Any]]] = connection.xrevrange(AUDIT, count=count)  # type: ignore[assignment]
    return [AuditEntry.from_fields(fields) for _, fields in found]


def export(connection: Redis) -> Iterator[AuditEntry]:
    """Every kept entry, oldest first, read in batches."""
    start = "-"
    while True:
        batch: list[tuple[Any, dict[Any, Any]]] = connection.xrange(  # type: ignore[assignment]
            AUDIT, min=start, count=EXPORT_BATCH
        )
        for _, fields in batch:
            yield AuditEntry.from_fields(fields)
        if len(batch) < EXPORT_BATCH:
            return
        start = "(" + as_text(batch[-1][0])


def to_line(entry: AuditEntry) -> str:
    """One JSON line, for `deployhook audit` and GET /api/audit."""
    return json.dumps(asdict(entry), sort_keys=True)
