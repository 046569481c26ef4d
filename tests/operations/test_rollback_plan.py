"""Which deploy a rollback goes back to, and which backup takes the database back with it."""

from __future__ import annotations

import pytest

from jobs.operations.rollback import plan_rollback
from jobs.operations.targets import OperationError
from jobs.state.records import Deploy


def _deploy(number: int, sha: str, state: str) -> Deploy:
    return Deploy(
        id=f"d-20250101-00000{number}-aaaaaa",
        project="app",
        environment="dev",
        ref_kind="branch",
        ref_name="main",
        sha=sha * 40,
        trigger="push",
        state=state,  # type: ignore[arg-type]
        backup=f"/b/{number}.dump",
    )


def _history(*rows: tuple[str, str]) -> list[Deploy]:
    """Rows oldest first, returned newest first as DeployStore.history gives them."""
    return [_deploy(n, sha, state) for n, (sha, state) in enumerate(rows, 1)][::-1]


@pytest.mark.parametrize(
    ("rows", "last_good", "to", "target", "restore"),
    [
        # v1 ok, v2 ok: back to v1, undoing v2 with the backup v2 took first.
        ([("a", "succeeded"), ("b", "succeeded")], 2, None, 1, 2),
        # a failed (reverted) deploy in between changes nothing: still back to v1.
        ([("a", "succeeded"), ("c", "reverted"), ("b", "succeeded")], 3, None, 1, 3),
        # the same commit deployed twice: skip to the last other commit, over both.
        ([("a", "succeeded"), ("b", "succeeded"), ("b", "succeeded")], 3, None, 1, 2),
        # a failed revert left the environment unknown: back to last good, over the failure.
        ([("a", "succeeded"), ("b", "revert_failed")], 1, None, 1, 2),
        # --to names the deploy; the restore is the backup before the oldest one after it.
        ([("a", "succeeded"), ("b", "succeeded"), ("c", "succeeded")], 3, 1, 1, 2),
        # --to the current deploy: nothing to roll back over, nothing to restore.
        ([("a", "succeeded"), ("b", "succeeded")], 2, 2, 2, None),
    ],
)
def test_rollback_target_and_backup(
    rows: list[tuple[str, str]], last_good: int, to: int | None, target: int, restore: int | None
) -> None:
    """The rollback target and the restore backup follow the documented rules."""
    history = _history(*rows)
    by_number = {int(d.id[15:17]): d for d in history}
    plan = plan_rollback(history, by_number[last_good].id, by_number[to].id if to else None)
    assert plan.target.id == by_number[target].id
    assert plan.restore_backup == (f"/b/{restore}.dump" if restore else None)


@pytest.mark.parametrize(
    ("rows", "to", "message"),
    [
        ([], None, "nothing was deployed here yet"),
        ([("a", "succeeded")], None, "no good deploy before"),
        ([("a", "succeeded"), ("b", "failed")], 2, "only a succeeded deploy"),
        ([("a", "succeeded")], 9, "no deploy d-20250101-000009-aaaaaa"),
    ],
)
def test_rollback_refusals(rows: list[tuple[str, str]], to: int | None, message: str) -> None:
    """A rollback with nothing to go back to, or to a deploy that never succeeded, is refused."""
    history = _history(*rows)
    with pytest.raises(OperationError, match=message):
        plan_rollback(history, None, f"d-20250101-00000{to}-aaaaaa" if to else None)


@pytest.mark.parametrize("to", ["d-1", "d-20250101-000001-aaaaaa\n", "../etc", "latest"])
def test_rollback_to_something_that_is_not_a_deploy_id(to: str) -> None:
    """`--to` (CLI and API) is checked with the one deploy id pattern before anything else."""
    with pytest.raises(OperationError, match="is not a deploy id"):
        plan_rollback(_history(("a", "succeeded")), None, to)
