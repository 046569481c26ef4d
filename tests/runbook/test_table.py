"""The runbook as data (jobs/runbook/table.py): stage order, and what each failure puts back.

The pipeline and the revert run these very tables; here they are read with facts in place of a
deploy, so no Redis, git or Docker is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from jobs.offsite.copy import wants_offsite
from jobs.runbook.recovery import CHANGING_STAGES
from jobs.runbook.stages.build import build
from jobs.runbook.stages.migrate import migrates_before_swap
from jobs.runbook.stages.pull import pull
from jobs.runbook.stages.rehearse import wants_rehearsal
from jobs.runbook.stages.restore import wants_restore
from jobs.runbook.table import (
    BEFORE_CHANGES,
    CHANGES,
    REHEARSED,
    Condition,
    Done,
    HooksAt,
    Not,
    Stage,
    decrypted,
    migrates_first,
    planned,
    pulls,
    swarm,
    to_undo,
    unchanged_note,
)
from jobs.secrets.decrypt import wants_secrets
from jobs.swarm.images import build_and_push
from jobs.triggers.paths import filters

HOOKS = {HooksAt("before_backup"), HooksAt("after_migrate"), HooksAt("after_health")}
EVERYTHING = {filters, wants_secrets, wants_offsite, decrypted, pulls, wants_rehearsal, *HOOKS}


def holds(facts: set[Condition]) -> object:
    def check(condition: Condition) -> bool:
        if isinstance(condition, Not):
            return not check(condition.condition)
        if condition is migrates_first:  # its definition, in terms of the facts
            return migrates_before_swap in facts and wants_restore not in facts
        return condition in facts

    return check


def stages(facts: set[Condition]) -> tuple[list[Stage], list[Stage]]:
    check = holds(facts)
    return list(planned(BEFORE_CHANGES, check)), list(planned(CHANGES, check))  # type: ignore[arg-type]


def names(steps: list[Stage]) -> list[str]:
    return [step.name for step in steps]


@pytest.mark.parametrize(
    ("facts", "before", "changes"),
    [
        (
            set(),
            ["snapshot", "fetch", "backup"],
            ["checkout", "build", "swap", "migrate", "health", "commit"],
        ),
        (
            EVERYTHING,
            ["snapshot", "fetch", "paths", "secrets", "before_backup hooks", "backup", "offsite"],
            ["checkout", "write secrets", "build", "rehearse", "swap", "migrate",
             "after_migrate hooks", "health", "after_health hooks", "commit"],
        ),
        (
            {migrates_before_swap, HooksAt("after_migrate")},
            ["snapshot", "fetch", "backup"],
            ["checkout", "build", "migrate", "after_migrate hooks", "swap", "health", "commit"],
        ),
        (
            {migrates_before_swap, wants_restore},
            ["snapshot", "fetch", "backup"],
            ["checkout", "build", "swap", "restore", "migrate", "health", "commit"],
        ),
    ],
    ids=["plain", "every option", "migrate before the swap", "rollback with its database"],
)  # fmt: skip
def test_stage_order(facts: set[Condition], before: list[str], changes: list[str]) -> None:
    """The stages run in the runbook's order, each option adding its stage in its place."""
    assert (names(stages(facts)[0]), names(stages(facts)[1])) == (before, changes)


@pytest.mark.parametrize(
    ("facts", "action"),
    [(set(), build), ({pulls}, pull), ({swarm}, build_and_push), ({swarm, pulls}, build_and_push)],
)
def test_one_build_stage_per_engine_and_image_source(facts: set[Condition], action: object) -> None:
    """Exactly one `build` runs: a swarm's build-and-push, a pull, or a Compose build."""
    builds = [step for step in stages(facts)[1] if step.name == "build"]
    assert [step.action for step in builds] == [action]


def test_stage_names_are_known_to_the_undo_table() -> None:
    """Every stage the revert asks about is a stage of the runbook, so a rename cannot drift."""
    known = {step.name for step in (*BEFORE_CHANGES, *CHANGES)}
    asked = {"swap", "checkout", "write secrets", "build", "migrate", "restore"}
    assert asked <= known


ALWAYS = ["health check of the previous version", "previous images are running"]
RESTORE = "restore database"
STOP_ADDED = "stop services the failed version added"
CHECKOUT = "check out previous commit"
SECRETS = "decrypt the previous release's secrets"
RETAG = "point image names at the previous images"
START = ["start the changed services first", "start the previous images"]
SWARM_START = "deploy the previous images"


@dataclass
class Case:
    failed: str
    ends: str
    undo: list[str]
    facts: set[Condition] = field(default_factory=set)
    database: str | None = None  # the migrate stage's finding; None: no database
    previous: bool = True
    backup: bool = True


CASES = {
    "fetch fails: nothing changed": Case("fetch", "failed", []),
    "backup fails: nothing changed": Case("backup", "failed", [], database="unchanged"),
    "offsite copy fails: nothing changed": Case("offsite", "failed", [], {wants_offsite}),
    "checkout fails": Case("checkout", "reverted", [CHECKOUT, *ALWAYS]),
    "first deploy's checkout fails": Case("checkout", "reverted", ALWAYS, previous=False),
    "build fails": Case("build", "reverted", [CHECKOUT, RETAG, *ALWAYS]),
    "swarm build fails": Case("build", "reverted", [CHECKOUT, *ALWAYS], {swarm}),
    "rehearsal fails": Case(
        "rehearse", "failed", [CHECKOUT, RETAG, *ALWAYS], {wants_rehearsal}, "unchanged"
    ),
    "migration before the swap changed the database": Case(
        "migrate", "reverted", [RESTORE, CHECKOUT, RETAG, *START, *ALWAYS],
        {migrates_before_swap}, "changed",
    ),
    "migration before the swap left the database alone": Case(
        "migrate", "reverted", [CHECKOUT, RETAG, *ALWAYS], {migrates_before_swap}, "unchanged"
    ),
    "swap fails": Case(
        "swap", "reverted", [STOP_ADDED, CHECKOUT, RETAG, *START, *ALWAYS], database="unchanged"
    ),
    "swap fails after secrets were written": Case(
        "swap", "reverted", [STOP_ADDED, CHECKOUT, SECRETS, RETAG, *START, *ALWAYS],
        {wants_secrets, decrypted},
    ),
    "health fails, database unchanged": Case(
        "health", "reverted", [STOP_ADDED, CHECKOUT, RETAG, *START, *ALWAYS], database="unchanged"
    ),
    "health fails, database changed": Case(
        "health", "reverted", [RESTORE, STOP_ADDED, CHECKOUT, RETAG, *START, *ALWAYS],
        database="changed",
    ),
    "health fails, database change unknown": Case(
        "health", "reverted", [RESTORE, STOP_ADDED, CHECKOUT, RETAG, *START, *ALWAYS],
        database="unknown",
    ),
    "health fails, changed, no backup (the restore step reports it)": Case(
        "health", "reverted", [RESTORE, STOP_ADDED, CHECKOUT, RETAG, *START, *ALWAYS],
        database="changed", backup=False,
    ),
    "after_health hook fails": Case(
        "after_health hooks", "reverted", [STOP_ADDED, CHECKOUT, RETAG, *START, *ALWAYS],
        {HooksAt("after_health")}, "unchanged",
    ),
    "swarm health fails, database changed": Case(
        "health", "reverted", [RESTORE, CHECKOUT, SWARM_START, *ALWAYS], {swarm}, "changed"
    ),
    "rollback's restore done, health fails with the database unchanged": Case(
        "health", "reverted", [RESTORE, STOP_ADDED, CHECKOUT, RETAG, *START, *ALWAYS],
        {wants_restore}, "unchanged",
    ),
    "no database: never restored": Case(
        "health", "reverted", [STOP_ADDED, CHECKOUT, RETAG, *START, *ALWAYS]
    ),
}  # fmt: skip


def failing(case: Case) -> tuple[str, list[str]]:
    """Run the tables as the pipeline and the revert do, until `case.failed` fails."""
    before, changes = stages(case.facts)
    started: list[str] = []
    for step in before:
        started.append(step.name)
        if step.name == case.failed:
            return "failed", []  # the pipeline: a failure before the changes reverts nothing
    for step in changes:
        started.append(step.name)
        if step.name == case.failed:
            break
    else:
        raise AssertionError(f"{case.failed} never runs with these facts")
    done = Done(
        started=frozenset(started),
        swarm=swarm in case.facts,
        has_database=case.database is not None,
        database_change=case.database if "migrate" in started else None,
        has_backup=case.backup,
        has_previous=case.previous,
    )
    ends = "failed" if unchanged_note(case.failed) else "reverted"
    return ends, [step.name for step in to_undo(done)]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_what_a_failure_puts_back(case: Case) -> None:
    """A failure reverts what its deploy changed and only that; the database only when changed."""
    assert failing(case) == (case.ends, case.undo)


def test_a_reverted_rehearsal_says_nothing_changed() -> None:
    """A failed rehearsal ends `failed`, saying the rehearsal ran on a copy."""
    assert unchanged_note("rehearse") == REHEARSED
    assert unchanged_note("health") is None


def test_recovery_reverts_a_deploy_that_died_in_any_changing_stage() -> None:
    """A worker that died after the changes began is reverted at the next start; before, not."""
    assert not set(CHANGING_STAGES) & {step.name for step in BEFORE_CHANGES}
    changing = {"checkout", "write secrets", "build", "rehearse", "migrate", "swap", "restore"}
    assert changing | {"after_health hooks", "health", "commit", "revert"} <= set(CHANGING_STAGES)
