"""A failure kept as data: the stage, a one-line summary, the command, its exit code and the
output lines that matter. Made once where it happened, never edited, formatted on reading
(jobs/failures/describe.py), so no reader parses text back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from jobs.failures.finder import lines_that_matter

LINES_KEPT = 3  # the cause first, then what else a tool marked as an error (and the last line)


@dataclass(frozen=True)
class Failure:
    stage: str
    summary: str  # one line: what was expected and what came instead
    argv: tuple[str, ...] = ()  # the command that failed, when a command did
    exit_code: int | None = None  # None: no command, or it ran out of time or did not start
    lines: tuple[str, ...] = ()  # the output lines that matter, the cause first

    @classmethod
    def of_command(
        cls,
        stage: str,
        summary: str,
        argv: Sequence[str],
        exit_code: int | None,
        output: str,
    ) -> Failure:
        """The failure of a command: the lines that matter are found in its output."""
        # The last line comes after the causes: when nothing is marked as a cause (a hook's
        # own words), it is all there is.
        lines = lines_that_matter(output, limit=LINES_KEPT)
        return cls(stage, _one_line(summary), tuple(argv), exit_code, lines)

    def in_stage(self, stage: str) -> Failure:
        """The same failure, named for the pipeline's stage it ended (a helper raised it)."""
        return self if stage == self.stage else replace(self, stage=stage)

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "summary": self.summary,
            "argv": list(self.argv),
            "exit_code": self.exit_code,
            "lines": list(self.lines),
        }

    @classmethod
    def from_json(cls, value: object) -> Failure | None:
        """The failure stored as `value`, read defensively; None for anything else."""
        if not isinstance(value, dict):
            return None
        stage, summary = value.get("stage"), value.get("summary")
        if not isinstance(stage, str) or not isinstance(summary, str):
            return None
        exit_code = value.get("exit_code")
        return cls(
            stage,
            summary,
            _texts(value.get("argv")),
            exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
            _texts(value.get("lines")),
        )


def _texts(value: object) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _one_line(text: str) -> str:
    return " ".join(text.split())
