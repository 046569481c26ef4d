"""The log of an operator's action (backup, restore, clone): shown as it happens, kept a while.

Such an action has no deploy record; its log and commands go to Redis under an id of the
same form (so the runner and masking work unchanged) and expire after a week.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from jobs.execution.deploylog import DeployLog
from jobs.state.records import DeployStore

KEEP_SECONDS = 7 * 24 * 3600


class OperatorLog(DeployLog):
    def __init__(
        self,
        store: DeployStore,
        action_id: str,
        secrets: Iterable[str] = (),
        echo: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(store, action_id, secrets)
        self.echo = echo

    def lines(self, *lines: str) -> None:
        super().lines(*lines)
        self.store.expire_log(self.deploy_id, KEEP_SECONDS)
        if self.echo is not None:
            for line in lines:
                self.echo(self.mask(line))
