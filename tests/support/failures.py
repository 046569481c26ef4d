"""What a failed deploy says about itself, held to the promise of #18: the cause, named in at
most 140 characters (a commit status, a chat line, a status page cell)."""

from __future__ import annotations

from jobs.failures.describe import recorded_cause
from jobs.state.records import Deploy

CAUSE_LIMIT = 140


def assert_cause(record: Deploy, expected: str | tuple[str, ...]) -> str:
    """The record's one-line failure description (jobs/failures/describe.py) fits in 140
    characters and still holds `expected`, the words that name the cause (any one of several,
    where a race decides which cause it is); returns it."""
    line = recorded_cause(record.failure, record.error, record.failed_stage)
    assert len(line) <= CAUSE_LIMIT, f"{len(line)} characters: {line!r}"
    causes = (expected,) if isinstance(expected, str) else expected
    assert any(cause in line for cause in causes), (
        f"none of the causes {causes!r} is in {line!r} (error: {record.error!r})"
    )
    return line
