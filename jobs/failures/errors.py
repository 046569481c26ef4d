"""The deploy layer's exceptions: each message says what happened and what to do next."""

from __future__ import annotations


class DeployError(Exception):
    """Base of everything the deploy pipeline raises on purpose."""


class StageFailed(DeployError):
    """A stage could not reach its post-condition."""

    def __init__(self, stage: str, message: str) -> None:
        self.stage = stage
        super().__init__(message)


class CommandFailed(DeployError):
    """A command exited non-zero or ran out of time; `output_tail` holds its last lines."""

    def __init__(self, argv: list[str], message: str, output_tail: str = "") -> None:
        self.argv = argv
        self.output_tail = output_tail
        super().__init__(message)


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
