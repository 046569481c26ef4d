"""The doctor's commands go through the one runner too; they belong to no deploy and change
nothing, so their log goes nowhere and only their outcome is kept."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobs.execution.questions import question_runner
from jobs.failures.errors import CommandFailed
from jobs.failures.finder import telling_line


@dataclass(frozen=True)
class Outcome:
    ok: bool
    output: str  # the last lines, secrets masked; the error message first when it failed


class Prober:
    """Runs read-only commands and turns a failure into text instead of an exception."""

    def __init__(self, environ: Mapping[str, str], secrets: Iterable[str] = ()) -> None:
        self.secrets = list(secrets)
        self.runner = question_runner(environ, self.secrets, "doctor")

    def hiding(self, secret: str) -> Prober:
        """The same prober, also masking `secret` (say, a token in a remote URL) in outputs."""
        return Prober(self.runner.environ, [*self.secrets, secret]) if secret else self

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        cwd: Path | None = None,
        stdout_path: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> Outcome:
        try:
            result = self.runner.run(
                argv,
                timeout=timeout,
                cwd=cwd,
                stdout_path=stdout_path,
                extra_env=extra_env,
                read_only=True,  # every probe only reads; no deploy lock to fence on anyway
            )
        except CommandFailed as error:
            return Outcome(False, f"{error}: {last_line(error.output_tail)}")
        except OSError as error:  # the program itself is missing
            return Outcome(False, f"cannot run {argv[0]}: {error.strerror}")
        return Outcome(True, result.output.strip())


def last_line(text: str) -> str:
    """The line that says why (jobs/failures/finder.py), else the last; "no output" for none."""
    return telling_line(text)[-300:] or "no output"
