"""What a failed deploy's error says, stated once: the cause, without the stage's own prefix.

A stage's error is recorded as "<stage> failed: <message> -> <outcome>", and the message of a
failed command as "`<argv>` exited <n>: <output>". Readers that already name the stage (the
status page, commit statuses, notifications) want only the cause, most telling part first.
"""

from __future__ import annotations

import re

_COMMAND = re.compile(
    r"`(?P<command>[^`]*)` exited (?P<code>-?[0-9]+)(?::\s*(?P<output>.*))?\Z", re.S
)


def without_stage(error: str | None, stage: str | None) -> str:
    """`error` without any leading "<stage> failed: " (it was often there twice)."""
    text = (error or "").strip()
    if stage:
        prefix = f"{stage} failed: "
        while text.startswith(prefix):
            text = text[len(prefix) :].lstrip()
    return text


def cause(error: str | None, stage: str | None) -> str:
    """One line saying why: a command's last line of output (and its exit status) comes
    before the command itself; the outcome the pipeline appended (" -> reverted to ...") goes."""
    text = without_stage(error, stage)
    head, arrow, _outcome = text.rpartition(" -> ")
    if arrow:
        text = head
    found = _COMMAND.search(text)
    if found:
        lines = [line.strip() for line in (found["output"] or "").splitlines() if line.strip()]
        if lines:
            return f"{lines[-1]} (exit {found['code']})"
        return f"`{found['command']}` exited {found['code']}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
