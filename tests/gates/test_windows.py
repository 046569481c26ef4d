"""Deploy windows: open or shut at a moment, and when the next one opens, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.gates import Window
from jobs.gates.windows import any_open, describe, is_open, next_opening

WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-17:00"}
BERLIN = Window(**WEEKDAYS, timezone="Europe/Berlin")
NEW_YORK = Window(**WEEKDAYS, timezone="America/New_York")
NIGHT = Window(days=["sat"], hours="22:00-02:00", timezone="Europe/Berlin")
EARLY = Window(days=["sun"], hours="02:30-03:30", timezone="Europe/Berlin")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Europe/Berlin: CET (+1) until 2026-03-29 01:00 UTC, then CEST (+2) until 2026-10-25 01:00 UTC.
# America/New_York: EST (-5) until 2026-03-08 07:00 UTC, then EDT (-4).
@pytest.mark.parametrize(
    ("window", "moment", "expected"),
    [
        (BERLIN, "2026-03-27 08:00", True),  # Fri 09:00 CET
        (BERLIN, "2026-03-27 07:59", False),  # Fri 08:59 CET
        (BERLIN, "2026-03-27 15:59", True),  # Fri 16:59 CET
        (BERLIN, "2026-03-27 16:00", False),  # Fri 17:00 CET: the end is not inside
        (BERLIN, "2026-03-30 07:00", True),  # Mon 09:00 CEST: same local hours after the change
        (BERLIN, "2026-03-30 06:59", False),  # Mon 08:59 CEST (07:59 by last week's offset)
        (BERLIN, "2026-03-30 15:00", False),  # Mon 17:00 CEST
        (BERLIN, "2026-10-26 08:00", True),  # Mon 09:00 CET after the autumn change
        (BERLIN, "2026-10-26 07:30", False),  # Mon 08:30 CET (would be 09:30 in CEST)
        (BERLIN, "2026-03-28 10:00", False),  # Saturday
        (NEW_YORK, "2026-03-06 14:00", True),  # Fri 09:00 EST
        (NEW_YORK, "2026-03-09 13:00", True),  # Mon 09:00 EDT
        (NEW_YORK, "2026-03-09 12:59", False),  # Mon 08:59 EDT
        (NIGHT, "2026-03-28 21:00", True),  # Sat 22:00 CET
        (NIGHT, "2026-03-28 23:59", True),  # Sun 00:59 CET: still Saturday's window
        (NIGHT, "2026-03-29 00:00", True),  # Sun 01:00 CET
        (NIGHT, "2026-03-29 00:59", True),  # Sun 01:59 CET, the last minute before the gap
        (NIGHT, "2026-03-29 01:00", False),  # Sun 03:00 CEST: 02:00 never happened; closed
        (NIGHT, "2026-03-29 20:30", False),  # Sunday night is not Saturday
        (EARLY, "2026-03-29 00:59", False),  # Sun 01:59 CET
        (EARLY, "2026-03-29 01:00", True),  # Sun 03:00 CEST: the window's 02:30 was skipped
        (EARLY, "2026-03-29 01:30", False),  # Sun 03:30 CEST
        (EARLY, "2026-10-25 00:30", True),  # Sun 02:30 CEST, the first 02:30 of the day
        (EARLY, "2026-10-25 01:15", False),  # Sun 02:15 CET, before 02:30 the second time
        (EARLY, "2026-10-25 01:45", True),  # Sun 02:45 CET, 02:xx repeated: inside again
        (EARLY, "2026-10-25 02:30", False),  # Sun 03:30 CET
    ],
)
def test_is_open(window: Window, moment: str, expected: bool) -> None:
    """A window holds its local hours on both sides of a DST change, midnight spans included."""
    assert is_open(window, utc(moment)) is expected


@pytest.mark.parametrize(
    ("windows", "moment", "opens"),
    [
        ([BERLIN], "2026-03-27 16:00", "2026-03-30 07:00"),  # Fri evening -> Mon 09:00 CEST
        ([BERLIN], "2026-10-23 16:00", "2026-10-26 08:00"),  # Fri evening -> Mon 09:00 CET
        ([BERLIN], "2026-03-30 05:00", "2026-03-30 07:00"),  # Mon early -> same morning
        ([NEW_YORK], "2026-03-06 22:00", "2026-03-09 13:00"),  # over the US change
        ([EARLY], "2026-03-28 12:00", "2026-03-29 01:00"),  # opens when the gap ends, 03:00
        ([EARLY], "2026-10-24 12:00", "2026-10-25 00:30"),  # the first 02:30
        ([NIGHT], "2026-03-25 12:00", "2026-03-28 21:00"),
        ([BERLIN, NIGHT], "2026-03-27 16:00", "2026-03-28 21:00"),  # the earliest of several
    ],
)
def test_next_opening(windows: list[Window], moment: str, opens: str) -> None:
    """The next opening is the first minute inside a window, also when DST moved the clock."""
    assert next_opening(windows, utc(moment)) == utc(opens)


def test_no_windows_means_any_time() -> None:
    """An environment without windows may deploy at any moment."""
    assert any_open([], utc("2026-03-28 03:00"))


def test_describe() -> None:
    """The status page shows days, hours and the time zone."""
    assert describe(BERLIN) == "mon-fri 09:00-17:00 Europe/Berlin"
    assert describe(Window()) == "every day 00:00-24:00 UTC"
    assert describe(NIGHT) == "sat 22:00-02:00 Europe/Berlin"
