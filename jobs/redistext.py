"""Redis answers bytes unless told otherwise; every reader turns them into text the same way."""

from __future__ import annotations


def as_text(value: object) -> str:
    """bytes -> str (undecodable bytes replaced, never raising); anything else via str()."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
