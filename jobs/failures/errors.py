"""The deploy layer's exceptions: each message says what happened and what to do next."""

from __future__ import annotations

from jobs.failures.describe import message
from jobs.failures.failure import Failure
from jobs.failures.finder import WIDTH, shorten, telling_line


class DeployError(Exception):
    """Base of everything the deploy pipeline raises on purpose."""


class StageFailed(DeployError):
    """A stage could not reach its post-condition; `failure` says so as data, made once.

    With `command`, the command's argv, exit code and the output lines that name the cause
    are kept (jobs/failures/finder.py finds them); the message is the one formatter's.
    """

    def __init__(self, stage: str, summary: str, *, command: CommandFailed | None = None) -> None:
        if command is None:
            failure = Failure(stage, " ".join(summary.split()))
        else:
            failure = Failure.of_command(
                stage, summary, command.shown, command.exit_code, command.output_tail
            )
        self.failure = failure
        super().__init__(message(failure))

    @classmethod
    def of(cls, failure: Failure) -> StageFailed:
        """The exception for a failure already made (renamed for its stage, or read back)."""
        made = cls(failure.stage, failure.summary)
        made.failure = failure
        made.args = (message(failure),)
        return made

    @property
    def stage(self) -> str:
        return self.failure.stage

    def in_stage(self, stage: str) -> StageFailed:
        """This failure named for the pipeline's stage it ended (a helper may not know it)."""
        return self if stage == self.stage else StageFailed.of(self.failure.in_stage(stage))


class CommandFailed(DeployError):
    """A command exited non-zero or ran out of time; `output_tail` holds its last lines.

    `exit_code` is None when it ran out of time or could not start; `shown` is the argv as it
    may be shown (secrets masked), which is all a failure keeps.
    """

    def __init__(
        self,
        argv: list[str],
        message: str,
        output_tail: str = "",
        exit_code: int | None = None,
        *,
        shown: list[str] | None = None,
    ) -> None:
        self.argv = argv
        self.output_tail = output_tail
        self.exit_code = exit_code
        self.shown = argv if shown is None else shown
        super().__init__(message)

    def cause(self, width: int | None = WIDTH) -> str:
        """The output line that says why (the finder's, else the last), on one line."""
        return shorten(telling_line(self.output_tail), width)


class LockTimeout(DeployError):
    """Another deploy or an operator held the environment for longer than we may wait."""


class OperatorHold(DeployError):
    """An operator holds the environment: the deploy stays queued until `deployhook unlock`."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        super().__init__(f"held by {holder}; it runs when the environment is unlocked")


class LockLost(DeployError):
    """The environment's lock is no longer this deploy's: it stops before changing anything."""

    def __init__(self, target: str, holder: str) -> None:
        self.target = target
        self.holder = holder
        super().__init__(f"lost the lock of {target}; it is now held by {holder}")


class NothingToDeploy(DeployError):
    """The deploy has nothing to do here (e.g. no watched path changed): it ends `skipped`."""
