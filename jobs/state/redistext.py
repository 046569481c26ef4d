"""Redis answers bytes unless told otherwise; every reader turns them into text the same way."""

from __future__ import annotations

import json
from typing import Any


def as_text(value: object) -> str:
    """bytes -> str (undecodable bytes replaced, never raising); anything else via str()."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def json_object(raw: bytes | str | None) -> dict[str, Any] | None:
    """The JSON object stored in a value, or None for anything else (never raising)."""
    try:
        value = json.loads(raw) if raw is not None else None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def nonempty_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
