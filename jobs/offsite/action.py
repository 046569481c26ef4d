"""A context for off-site work outside a deploy (drills, scheduled retention, listings).

It holds no lock: none of this changes the environment's stack or database, so a deploy is
never held up by a drill. The log goes to Redis under an action id, as an operator's does.
"""

from __future__ import annotations

from config import Settings
from jobs.execution.context import DeployContext, new_context, secret_values
from jobs.operations.maintenance import Echo
from jobs.operations.oplog import OperatorLog
from jobs.operations.targets import parse_target
from jobs.state import Connection
from jobs.state.records import Deploy, DeployStore, new_deploy_id


def unlocked_context(
    settings: Settings, connection: Connection, target: str, action: str, echo: Echo | None = None
) -> DeployContext:
    environment = parse_target(settings, target)
    store = DeployStore(connection)
    record = Deploy(
        new_deploy_id(), environment.project_name, environment.name, "sha", "", "", action
    )
    log = OperatorLog(store, record.id, secret_values(settings), echo)
    return new_context(record, settings, store, log)
