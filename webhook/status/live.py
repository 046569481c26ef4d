"""A running deploy as it changes: its state and stages, and its log as a server-sent stream.

The stream reads the record before the log on every pass: when the record says "final", every
line the deploy wrote was appended before that, so the lines read next are the last ones and
the stream can end without losing any.

A zero-downtime deploy is final once its release is proven, while its old containers still
drain out of the name (the record lists them in `draining`). Their stop, its log lines and a
warning when one cannot be removed come after the final state, with the record's last write
(`draining` emptied). So the page watches on until that write, but never past the drains'
recorded end plus the stop that follows it: a worker killed meanwhile leaves them listed until
the next worker start (jobs/runbook/stages/drains.py), which no watcher should wait for.
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
from webhook.status.formatting import format_span, format_time, parse_time

POLL_SECONDS = 0.5
# A stream ends after this long and the browser reconnects where it left off (Last-Event-ID),
# so one watcher never keeps a server worker busy for the whole length of a deploy.
STREAM_SECONDS = 55.0
KEEPALIVE_SECONDS = 15.0
RETRY_MILLISECONDS = 1000
# After a drain's recorded end: SIGTERM, up to the service's stop grace (Docker's default is
# 10 s) before SIGKILL, then the removal and the record's last write. A longer grace outlasts
# the watch: its warning then shows on the next load of the page.
DRAIN_STOP_SECONDS = 60.0
# zero_downtime_drain's upper bound (config/model.py): a recorded end later than this after the
# deploy's end is not believed (a clock that jumped, a broken record).
LONGEST_DRAIN_SECONDS = 3600.0


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


def watch_ends(deploy: Deploy) -> float | None:
    """Until when (Unix time) the page of a finished deploy waits for its draining old
    containers to go; None when none is listed."""
    finished = parse_time(deploy.finished_at)
    if not deploy.draining or finished is None:
        return None
    latest = max(_seconds(end) for end in deploy.draining.values())
    return min(latest, finished.timestamp() + LONGEST_DRAIN_SECONDS) + DRAIN_STOP_SECONDS


def _seconds(stamp: str) -> float:
    """Unix time of a recorded time; 0 (long past) for one that cannot be read."""
    moment = parse_time(stamp)
    return moment.timestamp() if moment is not None else 0.0


def settled(deploy: Deploy, now: float) -> bool:
    """Nothing more will change on the deploy's page: it is final, and no old container of it
    drains (or the wait for them is over)."""
    if deploy.state not in FINAL_STATES:
        return False
    ends = watch_ends(deploy)
    return ends is None or now >= ends


def live_summary(deploy: Deploy, now: float | None = None) -> dict[str, Any]:
    """What the deploy page updates in place: state, outcome and stages with their timings,
    warnings, and whether anything more will come (`settled`)."""
    return {
        "id": deploy.id,
        "state": deploy.state,
        "final": deploy.state in FINAL_STATES,
        "settled": settled(deploy, time.time() if now is None else now),
        "draining": sorted(ident[:12] for ident in deploy.draining),
        "warnings": list(deploy.warnings),
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
    now: Callable[[], float] = time.time,
) -> Iterator[str]:
    """Events `log` (new lines, id = index of the next line), `deploy` (summary), `end` (once
    the deploy is settled: final, and no old container of it left draining)."""
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
        summary = live_summary(deploy, now())
        if summary != sent:
            yield sse("deploy", summary)
            sent = summary
        if summary["settled"]:
            yield sse("end", {"next": position})
            return
        if clock() >= deadline:
            return
        if clock() - quiet_since >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"  # a comment: keeps proxies from closing an idle stream
            quiet_since = clock()
        sleep(poll)
