"""Find the line that says why a command failed, wherever it sits in the output.

The last line is often not it: alembic ends with "(Background on this error at: ...)", BuildKit
with a divider, psql with a caret under the bad SQL. Tools mark their cause instead, and the
markers below are looked for from the most specific down: the Docker daemon's own refusal,
a database's `ERROR:`/`FATAL:` (psql prefixes its own), a Python exception line, then the
plain `error:`/`fatal:` of git, pg_dump, curl and friends.
"""

from __future__ import annotations

import re
import unicodedata

WIDTH = 140  # a cause must fit a commit status, a chat line and a status page cell
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}  # zero-width joiner, variation selectors

# Most telling first. Within one kind the first line wins (a tool's later errors follow from its
# first: psql's "current transaction is aborted"), except for Python's exceptions: a chained
# traceback prints the outermost, the one that ended the program, last.
MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("daemon", re.compile(r"Error response from daemon: ")),
    ("database", re.compile(r"(?:^|\s|:\s?)(?:ERROR|FATAL|PANIC):\s")),
    ("exception", re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Violation)(?::|$)")),
    ("tool", re.compile(r"(?:^|\s)(?:error|fatal|FAILED):\s|^curl: \(\d+\)|failed to solve: ")),
)

# Noise a tool puts around its cause, dropped before the line is shown.
_PSQL_PREFIX = re.compile(r"^psql:[^:]*:\d+:\s*")
_BACKGROUND = re.compile(r"\s*\(Background on this error at: [^)]*\)")
_STEP_PREFIX = re.compile(r"^#\d+\s+(?:\d+\.\d+\s+)?")  # BuildKit's "#7 0.123 " step column
_COLOUR = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the classic builder colours a step's stderr
_OBJECT_ID = re.compile(r"\s*\([0-9a-f]{64}\)")  # "(<64 hex digits>)": a container or network id
# "sqlalchemy.exc.IntegrityError: (psycopg2.errors.NotNullViolation) ..." says its classes by
# module; their own names are enough, and the cause then fits a commit status.
_MODULE_PATH = re.compile(
    r"(?<![\w/.])(?:[a-z_]\w*\.)+(?=[A-Z]\w*(?:Error|Exception|Violation|Warning)\b)"
)


def matters(line: str) -> str | None:
    """The kind of cause `line` states, or None."""
    for kind, marker in MARKERS:
        if marker.search(line):
            return kind
    return None


def cause_lines(output: str, *, limit: int = 3) -> tuple[str, ...]:
    """The lines of `output` that state a cause, the most telling first (at most `limit`)."""
    found: dict[str, list[str]] = {kind: [] for kind, _ in MARKERS}
    for raw in output.splitlines():
        line = tidy(raw)
        if not line:
            continue
        kind = matters(line)
        if kind == "exception":
            line = _MODULE_PATH.sub("", line)
        if kind is not None and line not in found[kind]:
            found[kind].append(line)
    ordered = [
        line
        for kind, _ in MARKERS
        for line in (reversed(found[kind]) if kind == "exception" else found[kind])
    ]
    unique: list[str] = []
    for line in ordered:
        if line not in unique:
            unique.append(line)
    return tuple(unique[:limit])


def find_cause(output: str) -> str | None:
    """The one line saying why, or None when no line is marked as a cause."""
    lines = cause_lines(output, limit=1)
    return lines[0] if lines else None


def telling_line(output: str) -> str:
    """The cause line, else the last line ("" for no output): one line to show for a command."""
    return find_cause(output) or last_line(output)


def lines_that_matter(output: str, *, limit: int = 3) -> tuple[str, ...]:
    """The cause lines (at most `limit`) and then the last line, each once."""
    lines = cause_lines(output, limit=limit)
    last = last_line(output)
    return (*lines, last) if last and last not in lines else lines


def last_line(output: str) -> str:
    """The last non-empty line: what there is to show when nothing is marked."""
    lines = [tidy(line) for line in output.splitlines()]
    return next((line for line in reversed(lines) if line), "")


def tidy(line: str) -> str:
    line = _STEP_PREFIX.sub("", _COLOUR.sub("", line).strip())
    line = _OBJECT_ID.sub("", line)
    line = _PSQL_PREFIX.sub("", line)
    line = _BACKGROUND.sub("", line)
    return " ".join(line.split())


def shorten(text: str, width: int | None = WIDTH) -> str:
    """`text` on one line of at most `width` characters (None: uncut).

    A long line is cut in its middle: errors that wrap errors (Docker's, Go's, libpq's) name
    the innermost cause last, and the start says what was being done.
    """
    text = " ".join(text.split())
    if width is None or len(text) <= width:
        return text
    head = width - 1 if width < 24 else (width - 1) * 2 // 5
    start = len(text) - (width - 1 - head)
    while head > 0 and (_clings(text[head]) or text[head - 1] in _JOINERS):
        head -= 1  # never between an emoji and its joiner, or a letter and its accent
    while start < len(text) and (_clings(text[start]) or text[start - 1] in _JOINERS):
        start += 1
    return text[:head].rstrip() + "…" + text[start:].lstrip()


def _clings(char: str) -> bool:
    return char in _JOINERS or unicodedata.combining(char) != 0
