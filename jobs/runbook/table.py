"""The runbook as data: the stages in order, when each runs, and what a failure puts back.

jobs/runbook/pipeline.py runs BEFORE_CHANGES then CHANGES, one row at a time; a failure in
BEFORE_CHANGES ends the deploy `failed` with nothing changed, a failure in CHANGES reverts.
jobs/runbook/revert.py runs the rows of UNDO that what the deploy did calls for, in this
order (the database first, so that its writers stop soonest; the checkout before any start,
so that the previous version starts from its own files). tests/runbook/test_table.py reads
both tables with facts instead of a deploy, in milliseconds.

A row's conditions are asked when the row is reached, not before: whether the new commit has
SOPS files needs the fetch, and an off-site copy needs the backup's file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from jobs.database.watch import then_settle
from jobs.execution.context import DeployContext
from jobs.offsite.copy import copy_backup, wants_offsite
from jobs.runbook.deploy_hooks import has_hooks, run_hooks
from jobs.runbook.freshness import worker_reason
from jobs.runbook.revert_start import start_changed_first
from jobs.runbook.stages.backup import take_backup
from jobs.runbook.stages.build import build
from jobs.runbook.stages.checkout import checkout, fetch_and_verify
from jobs.runbook.stages.commit import commit_point
from jobs.runbook.stages.health import wait_healthy
from jobs.runbook.stages.migrate import migrate, migrates_before_swap
from jobs.runbook.stages.pull import pull
from jobs.runbook.stages.rehearse import rehearse, wants_rehearsal
from jobs.runbook.stages.restore import restore_requested, wants_restore
from jobs.runbook.stages.snapshot import take_snapshot
from jobs.runbook.stages.swap import swap
from jobs.runbook.undo import (
    check_out_previous,
    check_previous_running,
    decrypt_previous_secrets,
    needs_restore,
    previous_healthy,
    restore_backup,
    retag_previous,
    start_previous,
    stop_added_services,
)
from jobs.secrets.decrypt import decrypt_secrets, install_secrets, wants_secrets
from jobs.swarm import is_swarm
from jobs.swarm.images import build_and_push
from jobs.swarm.swap import start_previous as swarm_start_previous
from jobs.triggers.paths import check_watched_paths, filters


class Condition(Protocol):
    def __call__(self, ctx: DeployContext, /) -> bool: ...


Action = Callable[[DeployContext], object]


@dataclass(frozen=True)
class Not:
    condition: Condition

    def __call__(self, ctx: DeployContext) -> bool:
        return not self.condition(ctx)


@dataclass(frozen=True)
class HooksAt:
    """The environment has hooks at `point` (before_backup, after_migrate, after_health)."""

    point: str

    def __call__(self, ctx: DeployContext) -> bool:
        return has_hooks(ctx, self.point)


@dataclass(frozen=True)
class RunHooks:
    point: str

    def __call__(self, ctx: DeployContext) -> None:
        run_hooks(ctx, self.point)


@dataclass(frozen=True)
class Stage:
    name: str
    action: Action
    when: tuple[Condition, ...] = ()  # all must hold for the stage to run
    # fetch: a result other than None is why the webhook's commit must not deploy (live, or
    # older than live): the deploy ends `superseded` with it.
    supersedes: bool = False
    # rehearse: nothing running had changed, so a reverted failure ends `failed`, saying so.
    unchanged: str | None = None


def swarm(ctx: DeployContext) -> bool:
    return is_swarm(ctx.environment)


def pulls(ctx: DeployContext) -> bool:
    """images: pull: CI built them; the build stage pulls and pins them by digest instead."""
    return ctx.environment.images == "pull"


def decrypted(ctx: DeployContext) -> bool:
    return ctx.plaintexts is not None


def migrates_first(ctx: DeployContext) -> bool:
    """Migrate before the swap; a rollback that restores migrates after its restore anyway."""
    return migrates_before_swap(ctx) and not wants_restore(ctx)


def migrate_first(ctx: DeployContext) -> None:
    """The migration before the swap; its closing fingerprint read beside the swap when it
    can be (`closing_read_beside_swap`)."""
    migrate(ctx, closing_beside=closing_read_beside_swap(ctx))


def closing_read_beside_swap(ctx: DeployContext) -> bool:
    """The swap comes straight after the migration (no after_migrate hooks, which may change
    the schema too), and the database is read by this worker's engine (not a swarm's): the
    closing fingerprint is read while the new containers boot, and the swap waits for it at
    its end (`then_settle`)."""
    return not has_hooks(ctx, "after_migrate") and not swarm(ctx)


def fetch(ctx: DeployContext) -> str | None:
    """Fetch and verify; then why a webhook's commit must not deploy (live or older), or None."""
    fetch_and_verify(ctx)
    return worker_reason(ctx)


def hooks(point: str, *when: Condition) -> Stage:
    """The environment's hooks at `point`, as a stage of their own when there are any."""
    return Stage(f"{point} hooks", RunHooks(point), (*when, HooksAt(point)))


REHEARSED = "nothing was changed (rehearsal on a copy)"
BEFORE_CHANGES = (
    Stage("snapshot", take_snapshot),
    Stage("fetch", fetch, supersedes=True),
    Stage("paths", check_watched_paths, (filters,)),  # no watched file changed: `skipped`
    Stage("secrets", decrypt_secrets, (wants_secrets,)),  # SOPS files, before any change
    hooks("before_backup"),
    Stage("backup", take_backup),
    Stage("offsite", copy_backup, (wants_offsite,)),  # off the host, before anything changes
)
CHANGES = (
    Stage("checkout", checkout),
    Stage("write secrets", install_secrets, (decrypted,)),
    # A swarm: built once on the worker's engine and pushed, or resolved in the registry.
    Stage("build", build_and_push, (swarm,)),
    Stage("build", pull, (Not(swarm), pulls)),
    Stage("build", build, (Not(swarm), Not(pulls))),
    Stage("rehearse", rehearse, (wants_rehearsal,), unchanged=REHEARSED),
    Stage("migrate", migrate_first, (migrates_first,)),
    hooks("after_migrate", migrates_first),
    Stage("swap", then_settle(swap)),
    Stage("restore", restore_requested, (wants_restore,)),
    Stage("migrate", migrate, (Not(migrates_first),)),
    hooks("after_migrate", Not(migrates_first)),
    Stage("health", wait_healthy),
    hooks("after_health"),
    Stage("commit", commit_point),
)


def planned(stages: Iterable[Stage], holds: Callable[[Condition], bool]) -> Iterator[Stage]:
    """The stages whose conditions hold, in order; each is asked only when it is reached."""
    return (stage for stage in stages if all(holds(condition) for condition in stage.when))


def unchanged_note(stage_name: str) -> str | None:
    """What to say when a failure of this stage was reverted although nothing had changed."""
    return next((s.unchanged for s in CHANGES if s.name == stage_name and s.unchanged), None)


@dataclass(frozen=True)
class Done:
    """What a failed deploy had done, as much as its revert needs to know."""

    started: frozenset[str] = field(default_factory=frozenset)  # stages with a record
    swarm: bool = False
    has_database: bool = False
    database_change: str | None = None  # the migrate stage's fingerprints: unchanged, ...
    has_backup: bool = False
    has_previous: bool = True  # a commit ran before this deploy

    def ran(self, *stages: str) -> bool:
        return any(stage in self.started for stage in stages)

    @property
    def restore_due(self) -> bool:
        return needs_restore(self.has_database, set(self.started), self.database_change)

    @property
    def restores(self) -> bool:
        """The database goes back, so the services that use it start again after it."""
        return self.restore_due and self.has_backup


@dataclass(frozen=True)
class Undo:
    name: str  # as the revert's log and its problems say it
    action: Action
    when: Callable[[Done], bool]


def _on_compose(then: Callable[[Done], bool]) -> Callable[[Done], bool]:
    return lambda done: not done.swarm and then(done)


def _starts(done: Done) -> bool:
    """Something was started or stopped: the previous images must run again."""
    return done.ran("swap") or done.restores


def _checked_out(done: Done) -> bool:
    return done.ran("checkout") and done.has_previous


def _always(done: Done) -> bool:
    return True


UNDO = (
    Undo("restore database", restore_backup, lambda done: done.restore_due),
    Undo(
        "stop services the failed version added",
        stop_added_services,
        _on_compose(lambda done: done.ran("swap")),
    ),
    Undo("check out previous commit", check_out_previous, _checked_out),
    Undo(
        "decrypt the previous release's secrets",
        decrypt_previous_secrets,
        lambda done: _checked_out(done) and done.ran("write secrets"),
    ),
    Undo(
        "point image names at the previous images",
        retag_previous,
        _on_compose(lambda done: done.ran("build")),
    ),
    # A stack: the previous images are its services' specs.
    Undo(
        "deploy the previous images",
        swarm_start_previous,
        lambda done: done.swarm and _starts(done),
    ),
    # Serving sooner: the changed services alone, while the rest is proven ready.
    Undo("start the changed services first", start_changed_first, _on_compose(_starts)),
    Undo("start the previous images", start_previous, _on_compose(_starts)),
    Undo("health check of the previous version", previous_healthy, _always),
    Undo("previous images are running", check_previous_running, _always),
)


def to_undo(done: Done) -> list[Undo]:
    """The revert's steps for what the deploy did, in the order they run."""
    return [step for step in UNDO if step.when(done)]
