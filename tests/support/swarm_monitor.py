"""The swarm app's stack with its updates and rollbacks monitored for 1 s, for the modules
that deploy it again and again (tests/swarm/test_swarm_deploy_e2e.py, ..._remote_e2e.py,
..._database_e2e.py).

Swarm declares an update (and a rollback) complete only one `monitor` period after its last
task runs: 5 s by default, waited out by every update. A task that never gets healthy fails
before it ever runs, which Swarm counts whatever the monitor, so 1 s proves the same.
"""

from __future__ import annotations

from tests.support.swarm_app import SwarmApp

POLICIES = {
    "failure_action: rollback}": "failure_action: rollback, monitor: 1s}",
    "rollback_config: {order: start-first, parallelism: 1}": (
        "rollback_config: {order: start-first, parallelism: 1, monitor: 1s}"
    ),
}


def monitor_for_a_second(app: SwarmApp) -> None:
    """Commit the stack with `monitor: 1s` on main and make that commit the app's v1."""
    stack = (app.author / "stack.yml").read_text()
    monitored = stack
    for policy, faster in POLICIES.items():
        assert stack.count(policy) == 1, f"expected one `{policy}` in the stack, got:\n{stack}"
        monitored = monitored.replace(policy, faster)
    app.v1 = app.commit({"stack.yml": monitored}, "Swarm app v1, its updates monitored for 1 s")
