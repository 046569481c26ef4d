"""The other services' `compose up`, beside a rolling swap: they boot while its new containers do.

A plain deploy recreates every changed service at once; a rolling swap recreates the services
it does not swap the same way, in a thread (`compose up --detach --no-build --no-deps` with
their names), started once the swap's new containers are created and out of the name, beside
their `docker start` (the health stage waits for a recreated worker's first healthcheck as
much as for the api's), and waited for before any running container of the swap joins or
leaves the service's name. A container that starts while another reconnects can take the
address the reconnecting one just released, which cuts every connection on it
(jobs/runbook/stages/service_name.py): the matrix's 5 s requests on a draining old container
hung when this `up` ran beside its leave. A container this `up` removes (an orphan) leaves a
free address that a later reconnect would take if it is lower than the reconnecting
container's: stand-ins hold it then (jobs/runbook/stages/address_holds.py).
The new containers' own reconnect, out of the name, comes before it: they are not running
yet, and nothing is connected to them.
"""

from __future__ import annotations

import threading

from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.swap_commands import run


class OthersUp:
    def __init__(self, ctx: DeployContext, stage: str, services: list[str]) -> None:
        self.ctx, self.stage, self.services = ctx, stage, services
        self.thread = threading.Thread(target=self._up, daemon=True) if services else None
        self.failure: StageFailed | None = None

    def start(self) -> None:
        """Start the `up`, once; nothing when there is no other service."""
        if self.thread is not None and self.thread.ident is None:
            self.thread.start()

    def wait(self) -> None:
        """Until the `up` has ended, if it started."""
        if self.thread is not None and self.thread.ident is not None:
            self.thread.join()

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _up(self) -> None:
        orphans = self.ctx.environment.compose.remove_orphans
        argv = self.ctx.compose.up(self.services, remove_orphans=orphans, no_deps=True)
        try:
            run(self.ctx, argv, self.stage)
        except StageFailed as failure:
            self.failure = failure
