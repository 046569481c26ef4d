"""Last-good records: the commit, images and backup an environment last passed health with.

Written only at the commit point (jobs/runbook/stages/commit.py, which also keeps a copy on disk),
read by rollbacks, the status pages and metrics; read defensively, since operators need those pages
most when something is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis import Redis

from jobs.state import keys
from jobs.state.ids import DEPLOY_ID
from jobs.state.redistext import json_object, nonempty_text


@dataclass(frozen=True)
class LastGood:
    """The commit an environment last passed its health check with (`known`: was readable)."""

    known: bool
    deploy_id: str | None = None
    sha: str | None = None
    backup: str | None = None
    at: str | None = None


def read_last_good(connection: Redis, target: str) -> dict[str, Any] | None:
    return json_object(connection.get(keys.last_good(target)))


def write_last_good(connection: Redis, target: str, text: str) -> None:
    connection.set(keys.last_good(target), text)


def parse_last_good(raw: bytes | str | None) -> LastGood | None:
    """Turn the last-good key's value into a LastGood; None when the key is absent."""
    if raw is None:
        return None
    data = json_object(raw)
    sha = nonempty_text(data.get("sha")) if data else None
    if data is None or sha is None:
        return LastGood(known=False)
    deploy_id = nonempty_text(data.get("deploy_id"))
    return LastGood(
        known=True,
        deploy_id=deploy_id if deploy_id and DEPLOY_ID.match(deploy_id) else None,
        sha=sha,
        backup=nonempty_text(data.get("backup")),
        at=nonempty_text(data.get("at")),
    )
