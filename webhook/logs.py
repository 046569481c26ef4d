"""Structured logs: one JSON object per line, on stderr.

Callers pass their fields as `extra={"fields": {...}}`; delivery and deploy ids go there.
Nothing here ever receives a payload or a secret, so nothing here has to scrub them.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType

from jobs.state.readback import clean_text

_HANDLER_NAME = "deployhook-json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type and the frames it went through, not its text: that could
            # quote a payload or a connection URL. A list in the same line, never more lines.
            line["exception"] = record.exc_info[0].__name__
            frames = _frames(record.exc_info[2])
            line["where"] = frames[-1] if frames else ""
            line["traceback"] = frames
        # clean_text: a lone surrogate anywhere must not make the stream refuse the whole line.
        return clean_text(json.dumps(line, default=str, ensure_ascii=False))


def _frames(trace: TracebackType | None) -> list[str]:
    """`file:line in function` for each frame, outermost first."""
    if trace is None:
        return []
    return [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(trace)]


# Libraries whose lines land in the same output: RQ's worker (which adds a plain-text handler
# of its own unless one is in place) and Apprise (whose warnings say why a notification
# failed). Their lines are JSON too, so every line of deployhook's output parses.
_LIBRARIES = {"rq": logging.WARNING, "apprise": logging.WARNING}


def configure_logging(level: int = logging.INFO) -> None:
    """Send the `deployhook` loggers to stderr as JSON lines; repeated calls change nothing."""
    logger = logging.getLogger("deployhook")
    if any(handler.get_name() == _HANDLER_NAME for handler in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    for name, library_level in _LIBRARIES.items():
        library = logging.getLogger(name)
        library.addHandler(handler)
        library.setLevel(library_level)
