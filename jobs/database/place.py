"""Where the database's commands run: inside its Compose service, or its swarm task's container.

On one host `compose exec` finds the service's container. On a swarm the database is a task on
some node: jobs/swarm/database.py finds it through the manager, anew for every command (a
revert's stack deploy may have started another task), and runs the command on that node.
"""

from __future__ import annotations

from jobs.commands.postgres import ServiceExec
from jobs.execution.context import Tools
from jobs.swarm import is_swarm
from jobs.swarm.database import task_exec


def database_exec(tools: Tools) -> ServiceExec:
    database = tools.environment.database
    if is_swarm(tools.environment) and database is not None and database.service is not None:
        return task_exec(tools.docker(), tools.environment)
    return tools.compose
