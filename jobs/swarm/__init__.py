"""`engine: swarm` environments: a stack on a Docker Swarm, deployed by digest and watched.

The runbook stays jobs/runbook/pipeline.py's; the stages ask `is_swarm` and call in here:
- snapshot: `checks.refuse_unsafe` (jobs/swarm/policy.py) and the services' images now;
- build: `images.build_and_push` (build once on the worker's engine, push, keep digests);
- swap: `swap.swap` (stack deploy + watch); revert: `swap.start_previous`;
- health: `checks.probe_tasks` beside the URL.
Commands are argv builders (jobs/swarm/commands.py); reads go to the manager through the SDK.
"""

from __future__ import annotations

from config import Environment


def is_swarm(environment: Environment) -> bool:
    return environment.engine == "swarm"
