"""Reading stored records back defensively: whatever sits in Redis, a reader gets sane values.

A record may have been written by an older version, edited by hand or, before the intake
refused them, carry text no encoder accepts (a lone surrogate from a JSON `\\ud800` escape).
Readers must never fail on it: every string comes back encodable, every field with the type
its dataclass declares (or its default), and only a value that is not a JSON object at all is
refused, with a ValueError the store turns into its own error.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so it encodes as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def clean(value: Any) -> Any:
    """`value` with `clean_text` applied to every string in it, keys included."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    return value


def load_object(text: str | bytes) -> dict[str, Any]:
    """The JSON object stored as `text`, cleaned; ValueError when it is not one."""
    data = json.loads(text)  # ValueError (UnicodeDecodeError included) on garbage
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return clean(data)  # type: ignore[no-any-return]


def typed_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The keys of `data` that `cls` (a dataclass) declares, text and collections checked.

    Text fields (annotated `str`, `str | None` or a Literal of strings, or with a text
    default) and list/dict fields get a value of their type or their default; a required text
    field falls back to "". Fields of any other type are passed as stored, for the caller to
    read. Unknown keys are dropped.
    """
    kept: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        has_default = (
            field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING
        )
        if field.name not in data and has_default:
            continue
        value = data.get(field.name)
        annotation = str(field.type)
        if field.default_factory is not dataclasses.MISSING:
            sample = field.default_factory()
            plain = isinstance(sample, list | dict | str)
            kept[field.name] = value if not plain or isinstance(value, type(sample)) else sample
        elif _is_text(annotation, field.default):
            fallback = "" if field.default is dataclasses.MISSING else field.default
            kept[field.name] = value if isinstance(value, str) else fallback
        else:
            kept[field.name] = value
    return kept


def _is_text(annotation: str, default: object) -> bool:
    if isinstance(default, str):
        return True
    bare = annotation.replace(" ", "").removesuffix("|None").removeprefix("Optional[")
    return bare in ("str", "str]", "State", "Outcome") or bare.startswith("Literal[")
