"""A running deploy as it changes: its state and stages, and its log as a server-sent stream.

The stream reads the record before the log on every pass: when the record says "final", every
line the deploy wrote was appended before that, so the lines read next are the last ones and
the stream can end without losing any.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from jobs.failures.describe import without_stage
from jobs.report.text import database_note
from jobs.state import RedisError
from jobs.state.records import FINAL_STATES, Deploy, DeployStore, RecordError
from webhook.status.formatting import format_span, format_time

POLL_SECONDS = 0.5
# A stream ends after this long and the browser reconnects where it left off (Last-Event-ID),
# so one watcher never keeps a server worker busy for the whole length of a deploy.
STREAM_SECONDS = 55.0
KEEPALIVE_SECONDS = 15.0
RETRY_MILLISECONDS = 1000


class StreamSlots:
    """At most `limit` live streams at once in this process; one more is refused, not queued.

    Streams are long and cheap to open, so without a bound a crowd of watchers (anyone may
    open the status page) could take every connection a worker serves and keep webhook
    deliveries waiting. The page falls back to polling when its stream is refused.
    """

    def __init__(self, limit: int) -> None:
        self._free = threading.BoundedSemaphore(limit)

    def take(self) -> bool:
        return self._free.acquire(blocking=False)

    def give_back(self) -> None:
        self._free.release()


def live_summary(deploy: Deploy) -> dict[str, Any]:
    """What the deploy page updates in place: state, outcome and stages with their timings."""
    return {
        "id": deploy.id,
        "state": deploy.state,
        "final": deploy.state in FINAL_STATES,
        "started_at": format_time(deploy.started_at),
        "finished_at": format_time(deploy.finished_at),
        "duration": format_span(deploy.started_at, deploy.finished_at),
        "error": without_stage(deploy.error, deploy.failed_stage) or None,
        "failed_stage": deploy.failed_stage,
        "restored_backup": deploy.restored_backup,
        "kept_database": deploy.kept_database,
        "database": database_note(deploy),
        "blocked_by": deploy.blocked_by,
        "waiting_for": deploy.waiting_for if deploy.state == "queued" else None,
        "stages": [
            {
                "name": stage.name,
                "outcome": stage.outcome,
                "started_at": format_time(stage.started_at),
                "duration": format_span(stage.started_at, stage.finished_at),
                "detail": stage.detail,
            }
            for stage in deploy.stages
        ],
    }


def sse(event: str, data: object, event_id: int | None = None) -> str:
    """One server-sent event; JSON data is a single line, so no line of it can break framing."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def stream_log(
    store: DeployStore,
    deploy_id: str,
    start: int,
    *,
    poll: float = POLL_SECONDS,
    lifetime: float = STREAM_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Events `log` (new lines, id = index of the next line), `deploy` (summary), `end`."""
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    deadline = clock() + lifetime
    quiet_since = clock()
    sent: dict[str, Any] | None = None
    position = start
    while True:
        try:
            deploy = store.get(deploy_id)
            lines = store.log(deploy_id, position)
        except RecordError as error:
            yield sse("problem", {"error": str(error), "retry": False})
            return
        except RedisError:
            yield sse("problem", {"error": "Redis is unavailable; retrying", "retry": True})
            return
        if lines:
            yield sse("log", {"start": position, "lines": lines}, position + len(lines))
            position += len(lines)
            quiet_since = clock()
        summary = live_summary(deploy)
        if summary != sent:
            yield sse("deploy", summary)
            sent = summary
        if summary["final"]:
            yield sse("end", {"next": position})
            return
        if clock() >= deadline:
            return
        if clock() - quiet_since >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"  # a comment: keeps proxies from closing an idle stream
            quiet_since = clock()
        sleep(poll)
