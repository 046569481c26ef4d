"""The last restore drill of each environment: what the status page, /metrics and the CLI show."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from redis import Redis

from jobs.state import keys
from jobs.state.readback import load_object, typed_fields


@dataclass
class DrillResult:
    target: str
    ok: bool
    at: str  # UTC ISO time the drill finished
    snapshot: str | None = None  # the off-site snapshot restored
    name: str | None = None  # the backup file it holds
    taken_by: str | None = None  # the deploy that took that backup
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    missing: list[str] = field(default_factory=list)  # tables the dump has, the restore lacks
    schema_recorded: str | None = None
    schema_restored: str | None = None
    seconds: float = 0.0
    error: str | None = None

    def summary(self) -> str:
        if not self.ok:
            return f"FAILED: {self.error}"
        rows = sum(self.tables.values())
        return (
            f"ok: {self.name} (snapshot {self.snapshot}) restored, {len(self.tables)} tables, "
            f"{rows} rows, schema {self.schema_restored}"
        )


def record_drill(connection: Redis, result: DrillResult) -> None:
    connection.set(keys.backup_drill(result.target), json.dumps(asdict(result)))


def last_drill(connection: Redis, target: str) -> DrillResult | None:
    return parse_drill(connection.get(keys.backup_drill(target)))


def parse_drill(raw: bytes | str | None) -> DrillResult | None:
    """The drill record's value as a DrillResult; None when absent or malformed."""
    if raw is None:
        return None
    try:
        return DrillResult(**typed_fields(DrillResult, load_object(raw)))
    except (ValueError, TypeError):
        return None


def due(connection: Redis, kind: str, target: str, every: float) -> bool:
    """True once per `every` seconds per (kind, environment), whichever worker asks first:
    a scheduled job claims its slot with SET NX and an expiry of one period."""
    claimed = connection.set(keys.offsite_schedule(kind, target), "1", nx=True, ex=int(every))
    return bool(claimed)
