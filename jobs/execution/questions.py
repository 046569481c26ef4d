"""Read-only questions asked outside any deploy (the doctor's probes, a manual deploy's ref)
go through the one Runner too; they belong to no deploy, so their log goes nowhere."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from jobs.execution.deploylog import DeployLog
from jobs.execution.runner import Runner
from jobs.state.records import DeployStore


class _NoRecord:
    """Stands in for the deploy store: a question's commands are not a deploy's history."""

    def append_log(self, deploy_id: str, *lines: str) -> None:
        """Nothing to keep: the answer carries what matters."""

    def append_command(self, deploy_id: str, command: dict[str, Any]) -> None:
        """Nothing to keep: the answer carries what matters."""


def question_runner(
    environ: Mapping[str, str] | None = None, secrets: Iterable[str] = (), name: str = "question"
) -> Runner:
    """A Runner whose log and command records go nowhere; `secrets` are still masked."""
    return Runner(DeployLog(cast(DeployStore, _NoRecord()), name, list(secrets)), environ)
