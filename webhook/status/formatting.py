"""How times and durations read on the page: short, UTC, the same on every screen."""

from __future__ import annotations

from datetime import datetime


def parse_time(value: str | None) -> datetime | None:
    """An ISO timestamp from a record, or None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def seconds_between(start: str | None, end: str | None) -> float | None:
    begun, ended = parse_time(start), parse_time(end)
    if begun is None or ended is None:
        return None
    return max((ended - begun).total_seconds(), 0.0)


def format_time(value: str | None) -> str:
    """`2026-11-24 10:45:50 UTC`; an unreadable value is shown as given, absent as a dash."""
    moment = parse_time(value)
    if moment is None:
        return value or "-"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: float | None) -> str:
    """`0.4s`, `12s`, `3m 05s`, `1h 02m`; a dash when unknown."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def format_span(start: str | None, end: str | None) -> str:
    return format_duration(seconds_between(start, end))
