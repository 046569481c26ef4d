"""Deploy windows: is a moment inside one, and when does the next one open.

A window is days, hours and a time zone (config/gates.py `Window`). Hours are local wall-clock
time, so a window keeps its local hours across a DST change; a window whose end is before its
start spans midnight and belongs to the day it starts on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from config.gates import DAYS, Window

SEARCH_DAYS = 8  # every weekly window opens within a week and a day


def is_open(window: Window, moment: datetime) -> bool:
    """True when `moment` (aware) falls inside `window`."""
    local = moment.astimezone(window.zone)
    now = local.time().replace(tzinfo=None)
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    start, end = window.start, window.end
    if end is None or start < end:
        return today in window.days and start <= now and (end is None or now < end)
    return (today in window.days and now >= start) or (yesterday in window.days and now < end)


def any_open(windows: Sequence[Window], moment: datetime) -> bool:
    """No windows means any time."""
    return not windows or any(is_open(window, moment) for window in windows)


def next_opening(windows: Sequence[Window], moment: datetime) -> datetime | None:
    """The first whole minute after `moment` at which a window is open (UTC); None if never.

    It walks minute by minute through the same predicate `is_open` uses instead of computing
    start times: local times that a DST change skips or repeats then need no special case.
    Windows are given in whole minutes and zones change offset on whole minutes, so a minute
    grid finds the exact opening. At most 8 days of minutes: a few milliseconds, rarely run.
    """
    if not windows:
        return moment
    step = timedelta(minutes=1)
    candidate = moment.astimezone(UTC).replace(second=0, microsecond=0) + step
    for _ in range(SEARCH_DAYS * 24 * 60):
        if any(is_open(window, candidate) for window in windows):
            return candidate
        candidate += step
    return None


def describe(window: Window) -> str:
    """`mon-fri 09:00-17:00 Europe/Berlin`, for the status page and messages."""
    days = ",".join(window.days) if len(window.days) < 7 else "every day"
    if window.days == list(DAYS[:5]):
        days = "mon-fri"
    return f"{days} {window.hours} {window.timezone}"
