"""The one formatter of failures: every reporter, the status pages and the CLI read them here.

`describe` is the short form (one line, at most WIDTH characters, the cause first); `message`
is the long one the deploy log and the record's error text carry. Records written before
failures were kept as data hold only text: `describe_text` finds the cause in that text the
same way (jobs/failures/finder.py), without parsing the message's shape.
"""

from __future__ import annotations

from jobs.failures.failure import Failure
from jobs.failures.finder import WIDTH, find_cause, last_line, shorten


def describe(failure: Failure, width: int | None = WIDTH) -> str:
    """One line naming the cause: the cause line and the exit code, else the summary.

    At most `width` characters; None leaves the cutting to a caller that adds its own words.
    """
    if not failure.lines:
        return shorten(failure.summary, width)
    status = f" (exit {failure.exit_code})" if failure.exit_code is not None else ""
    room = None if width is None else width - len(status)
    return shorten(failure.lines[0], room) + status


def message(failure: Failure) -> str:
    """Everything worth keeping on one line: the summary, then the lines that matter."""
    if not failure.lines:
        return failure.summary
    return f"{failure.summary}: {' | '.join(failure.lines)}"


def without_stage(error: str | None, stage: str | None) -> str:
    """`error` without any leading "<stage> failed: " (it was often there twice)."""
    text = (error or "").strip()
    if stage:
        prefix = f"{stage} failed: "
        while text.startswith(prefix):
            text = text[len(prefix) :].lstrip()
    return text


def describe_text(error: str | None, stage: str | None, width: int | None = WIDTH) -> str:
    """The cause in a failure stored only as text (older records, gates, interruptions)."""
    text = without_stage(error, stage)
    head, arrow, _outcome = text.rpartition(" -> ")
    if arrow:
        text = head
    return shorten(find_cause(text) or last_line(text), width)


def recorded_cause(
    failure: object, error: str | None, stage: str | None, width: int | None = WIDTH
) -> str:
    """The cause of a recorded failure: from its data when the record has it, else its text."""
    data = Failure.from_json(failure)
    return describe(data, width) if data is not None else describe_text(error, stage, width)
