"""The old containers of a rolling swap, retired beside the rest of the swap.

Per batch, in a thread of its own: the settle after the new containers joined the name,
the old ones leave it; they drain (keep serving what is already on them) for the drain period,
then get SIGTERM (`docker stop -t GRACE`) and are removed. The swap waits until every batch has
left the name (`wait_left`: its post-condition is a name that holds only the new version),
runs the plain `compose up` of the other services, then waits until every drain has ended and
its containers are gone (`wait`): the health stage must not pass on an old container, which a
proxy still reaches through a kept-alive connection or a lookup up to 2 s old while it drains.
Once it is stopped, nothing can reach it. The deploy waits for them again at its very end
(`DeployContext.close`), before its lock is released.

A revert that comes while they drain (a later batch of a multi-batch swap failed) takes them
back (`reclaim`): they are the previous version, running and out of the name, so they join it
again (once Docker still calls them healthy) instead of new containers of the previous image
being started.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from jobs.commands.docker import remove_container, stop_container
from jobs.compose.model import ServiceModel
from jobs.compose.zero_downtime import drain_seconds, grace_seconds
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.runbook.stages.container_health import failed_after_join, look
from jobs.runbook.stages.service_name import leave_name
from jobs.runbook.stages.swap_commands import run, short_ids

Aliases = dict[str, tuple[str, ...]]


@dataclass
class Batch:
    containers: list[Any]
    joined: float  # time.monotonic() when the new ones joined the name
    replaced_by: list[Any] = field(default_factory=list)  # the new ones that joined
    in_name: bool = True
    # settling -> draining -> stopping -> gone; or reclaimed, or failed; or kept (the new ones
    # failed before these left the name: they serve on, never retired)
    state: str = "settling"
    aliases: dict[str, Aliases] = field(default_factory=dict)  # container id -> what it had
    left: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)  # a reclaim ends the drain
    error: BaseException | None = None
    reported: bool = False  # wait() has logged its failure, if any
    thread: threading.Thread | None = None


class Retiring:
    """One service's old containers, batch by batch: leave the name, drain, stop, go."""

    def __init__(
        self, ctx: DeployContext, service: ServiceModel, stage: str, settle: float
    ) -> None:
        self.ctx, self.service, self.stage = ctx, service, stage
        # Between the new containers joining the name and the old ones leaving it: every
        # proxy knows the new addresses before an old one's 0.1 s reconnect (without it nginx
        # answered 504 to the requests of that instant: it knew only the old address).
        # jobs/compose/proxy_cache.py.
        self.settle = settle
        self.drain = drain_seconds(service, ctx.environment.zero_downtime_drain)
        self.batches: list[Batch] = []
        self.lock = threading.Lock()
        ctx.retiring.append(self)

    def start(
        self,
        containers: list[Any],
        joined: float,
        in_name: bool = True,
        replaced_by: list[Any] | None = None,
    ) -> None:
        """Retire `containers`; `in_name=False`: they are out of the name already.
        `replaced_by`: the new containers that joined the name for them, looked at again
        before these leave."""
        batch = Batch(list(containers), joined, list(replaced_by or []), in_name)
        batch.thread = threading.Thread(target=self._retire, args=(batch,), daemon=True)
        self.batches.append(batch)
        batch.thread.start()

    def container_ids(self) -> set[str]:
        """The containers this retires and that are not gone yet: out of every view of the
        running stack (health, running images), their image is the version that left."""
        with self.lock:
            return {
                c.id for b in self.batches if b.state not in ("gone", "reclaimed", "kept")
                for c in b.containers
            }  # fmt: skip

    def wait_left(self, quiet: bool = False) -> None:
        """Until every batch has left the name; raises the first failure to leave, or with
        `quiet` logs it (a failure being raised already)."""
        for batch in self.batches:
            batch.left.wait()
        for batch in self.batches:
            if batch.error is not None and batch.in_name:
                if not quiet:
                    raise batch.error
                self.ctx.log.info(f"{self.service.name}: leaving the name failed: {batch.error}")

    def reclaim(self, image: str) -> list[tuple[Any, Aliases]]:
        """The draining containers of `image`, no longer retired, with the aliases they had.

        Those already stopping are waited for: they are gone when this returns.
        """
        taken: list[tuple[Any, Aliases]] = []
        stopping = []
        for batch in self.batches:
            batch.left.wait()  # none is still settling
        with self.lock:
            for batch in self.batches:
                # Only those that left the name themselves: they know the aliases to take back.
                fits = all(
                    c.attrs["Image"] == image and batch.aliases.get(c.id) for c in batch.containers
                )
                if batch.state == "draining" and fits:
                    batch.state = "reclaimed"
                    batch.wake.set()
                    taken += [(c, batch.aliases.get(c.id, {})) for c in batch.containers]
                elif batch.state == "stopping":
                    stopping.append(batch)
        for batch in stopping:
            if batch.thread is not None:
                batch.thread.join()
        return taken

    def _retire(self, batch: Batch) -> None:
        name = self.service.name
        try:
            if batch.in_name:
                time.sleep(max(0.0, batch.joined + self.settle - time.monotonic()))
                failure = self._replacements_failed(batch)
                if failure is not None:  # the old ones stay, serving, as if never retired
                    with self.lock:
                        batch.error, batch.state = failure, "kept"
                    return
                for container in batch.containers:
                    batch.aliases[container.id] = leave_name(self.ctx, container, self.stage)
                batch.in_name = False
            with self.lock:
                batch.state = "draining"
        except BaseException as error:  # noqa: BLE001 - raised again by wait_left(), in the swap
            batch.error, batch.state = error, "failed"
            return
        finally:
            batch.left.set()
        ids = short_ids(batch.containers)
        self.ctx.log.info(f"{name}: {ids} out of the name, draining {self.drain:g}s before SIGTERM")
        batch.wake.wait(self.drain)
        with self.lock:
            if batch.state == "reclaimed":
                return
            batch.state = "stopping"
        try:
            remove(self.ctx, batch.containers, grace_seconds(self.service), self.stage, name)
        except BaseException as error:  # noqa: BLE001 - reported by wait(), at the deploy's end
            batch.error, batch.state = error, "failed"
            return
        with self.lock:
            batch.state = "gone"

    def _replacements_failed(self, batch: Batch) -> StageFailed | None:
        """Docker calls a container healthy after one passing probe; a release that passes one
        and then crashes must not take the name alone. The old ones have not left: removing
        the new ones is the whole undo."""
        for container in batch.replaced_by:
            seen = look(container)
            if not seen.healthy:
                self.ctx.log.info(
                    f"{self.service.name}: new container {container.id[:12]} failed after it "
                    f"joined the name ({seen}); removing {short_ids(batch.replaced_by)}"
                )
                remove(self.ctx, batch.replaced_by, 0, self.stage, self.service.name)
                return StageFailed(self.stage, failed_after_join(self.service.name, seen))
        return None

    def wait(self) -> None:
        """Until every batch is gone or taken back; logs each failure (the deploy's end)."""
        for batch in self.batches:
            if batch.thread is not None:
                batch.thread.join()
            if batch.reported:  # the swap waited already; the deploy's end waits again
                continue
            batch.reported = True
            if batch.error is not None and batch.state != "kept":  # kept: the swap raised it
                warning = (
                    f"{self.service.name}: retiring the old container(s) "
                    f"{short_ids(batch.containers)} failed: {batch.error}. Out of the name, they "
                    "serve nothing; the next deploy of this environment, or the next worker "
                    "start, tries again"
                )
                self.ctx.log.info(warning)
                self.ctx.deploy.warnings.append(warning)  # shown and reported (close())


def wait_gone(ctx: DeployContext) -> None:
    """Until every old container of the deploy's rolling swaps has drained and gone, or was
    taken back; each failure is in the deploy log."""
    for retiring in ctx.retiring:
        retiring.wait()


def remove(ctx: DeployContext, containers: list[Any], grace: int, stage: str, service: str) -> None:
    """SIGTERM, SIGKILL after `grace` seconds, then remove (never a volume)."""
    for container in containers:
        # `compose up --scale` counts them (rolling.py); the stop frees its addresses, which
        # no reconnect may see happen (address_holds.py).
        with ctx.containers_lock:
            run(ctx, stop_container(container.id, grace), stage, service)
            run(ctx, remove_container(container.id), stage, service)
