"""Follow a deploy until it is final: live stage lines on a terminal, plain lines when piped."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from jobs.state.records import FINAL_STATES, Deploy, DeployStore, StageRecord
from webhook.operator.render import stage_line

POLL_SECONDS = 0.5


def follow_stages(
    store: DeployStore,
    deploy_id: str,
    out: TextIO | None = None,
    stop: Callable[[Deploy], bool] = lambda record: False,
) -> Deploy:
    """Print each stage as it runs and ends; returns the final record (or when `stop` says)."""
    out = out or sys.stdout  # looked up now, so a redirected stdout is honoured
    live = out.isatty()
    printed = 0  # stages already printed as finished
    state = ""
    while True:
        record = store.get(deploy_id)
        finished = [s for s in record.stages if s.finished_at is not None]
        for entry in finished[printed:]:
            _clear(out, live)
            out.write(stage_line(entry) + "\n")
        printed = len(finished)
        if record.state != state:
            state = record.state
            _clear(out, live)
            out.write(f"{record.id}: {state}\n")
        running = _running(record.stages)
        if live and running is not None:
            out.write("\r\033[K" + stage_line(running))
        out.flush()
        if record.state in FINAL_STATES or stop(record):
            return record
        time.sleep(POLL_SECONDS)


def follow_log(store: DeployStore, deploy_id: str, out: TextIO | None = None) -> Deploy:
    """Print the log from its first line, then new lines as they come, until the deploy is final."""
    out = out or sys.stdout
    start = 0
    while True:
        record = store.get(deploy_id)  # read first: lines written before "final" are all seen
        lines = store.log(deploy_id, start)
        for line in lines:
            out.write(line + "\n")
        start += len(lines)
        out.flush()
        if record.state in FINAL_STATES:
            return record
        time.sleep(POLL_SECONDS)


def _running(stages: list[StageRecord]) -> StageRecord | None:
    return stages[-1] if stages and stages[-1].finished_at is None else None


def _clear(out: TextIO, live: bool) -> None:
    if live:
        out.write("\r\033[K")
