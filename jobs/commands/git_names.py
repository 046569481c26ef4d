"""Validation of the git names a payload carries, before anything else uses them.

Ref names follow `git check-ref-format`; commit ids are 40 (SHA-1) or 64 (SHA-256) hex digits.
Used by the intake on payloads, by the CLI on operator input and again by the deploy before
git sees a value: a value that fails here never reaches routing, Redis or git.
"""

from __future__ import annotations

import re

ZERO_SHA = re.compile(r"0+")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# Characters git forbids anywhere in a ref, plus every control character (C0, DEL, C1).
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f~^:?*\[\\]")
MAX_REF_LENGTH = 255


def is_sha(value: object) -> bool:
    return isinstance(value, str) and bool(_SHA.fullmatch(value))


def is_zero_sha(value: object) -> bool:
    return isinstance(value, str) and bool(ZERO_SHA.fullmatch(value))


def ref_name_problem(name: str) -> str | None:
    """Why `name` (a branch or tag name, without refs/heads/) is not a valid ref, or None."""
    if not name:
        return "empty ref name"
    if len(name) > MAX_REF_LENGTH:
        return f"ref name longer than {MAX_REF_LENGTH} characters"
    if not name.isprintable() or not _encodable(name):
        return "ref name contains unprintable text or a lone surrogate (not valid UTF-8)"
    if _FORBIDDEN_CHARS.search(name):
        return "ref name contains a control character, space or one of ~^:?*[\\"
    if name == "@" or "@{" in name or ".." in name or "//" in name:
        return "ref name contains '@{', '..' or '//' or is '@'"
    if name.startswith("/") or name.endswith(("/", ".")):
        return "ref name starts with '/' or ends with '/' or '.'"
    for component in name.split("/"):
        if component.startswith(".") or component.endswith(".lock"):
            return "a ref name component starts with '.' or ends with '.lock'"
    if name.startswith("-"):
        return "ref name starts with '-'"
    return None


def _encodable(text: str) -> bool:
    """False for a lone surrogate (JSON's "\\ud800"): valid in Python, not in git, Redis or HTML."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
