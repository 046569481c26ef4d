"""Old content-named configs and secrets: removed after a good deploy, once nothing needs them.

Every deploy whose config or secret file changed creates it under a new content name
(jobs/swarm/render.py), and Swarm never removes one. After the commit point deployhook removes
those it made for this stack (`<stack>_<key>_<hash12>`, carrying the stack's label) that
neither the current specs nor the previous ones (`PreviousSpec`, what Swarm's own rollback and
a revert of the next deploy start from) refer to. Nothing is lost with them: their content is in
git, and a rollback to an older release creates them again from its files under the same names.
A config or secret the user named is never touched; one still in use is refused by Swarm itself.
`unused` is pure (table-tested); a removal that fails is logged and never fails the deploy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed
from jobs.swarm import commands
from jobs.swarm.tasks import STACK_LABEL, stack_services

KINDS = (("config", "Configs", "ConfigName"), ("secret", "Secrets", "SecretName"))


def unused(stack: str, existing: Iterable[str], referenced: set[str]) -> list[str]:
    """The content names deployhook made for `stack` that nothing refers to, sorted."""
    made = re.compile(rf"^{re.escape(stack)}_.+_[0-9a-f]{{12}}$")
    return sorted(name for name in existing if made.fullmatch(name) and name not in referenced)


def referenced(services: list[dict[str, Any]], section: str, field: str) -> set[str]:
    """Every config (or secret) name the services' current and previous specs refer to."""
    names = set()
    for attrs in services:
        for spec in (attrs.get("Spec"), attrs.get("PreviousSpec")):
            container = ((spec or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
            names |= {str(item.get(field)) for item in container.get(section) or []}
    return names


def remove_unused(ctx: DeployContext) -> list[str]:
    """Remove this stack's unused content-named configs and secrets; the names removed."""
    stack = ctx.environment.compose.project
    services = [service.attrs for service in stack_services(ctx.docker, stack)]
    labelled = {"label": f"{STACK_LABEL}={stack}"}
    removed = []
    for kind, section, field in KINDS:
        listing = ctx.docker.configs if kind == "config" else ctx.docker.secrets
        existing = [str(item.name) for item in listing.list(filters=labelled)]
        for name in unused(stack, existing, referenced(services, section, field)):
            try:
                ctx.runner.run(commands.remove_file(kind, name), timeout=60)
                removed.append(name)
            except CommandFailed as error:
                ctx.log.info(f"the old {kind} {name} was not removed: {error}")
    return removed
