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
            # The exception's type and where it was raised, not its text: that could quote
            # a payload or a connection URL.
            line["exception"] = record.exc_info[0].__name__
            line["where"] = _innermost_frame(record.exc_info[2])
        return json.dumps(line, default=str, ensure_ascii=False)


def _innermost_frame(trace: TracebackType | None) -> str:
    if trace is None:
        return ""
    frame = traceback.extract_tb(trace)[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}"


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
