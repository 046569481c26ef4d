"""The intake's half of path filters: answer `ignored` only where the payload proves it.

For each routed environment with `paths:`, the live commit is read (one Redis GET) and compared
with the payload's `before`; jobs/triggers/paths.py decides. Unproven cases are queued.
"""

from __future__ import annotations

from typing import Any

from jobs.state import RedisError
from jobs.state.lastgood import read_last_good
from jobs.triggers.paths import intake_verdict
from webhook.changed_files import changed_files
from webhook.push import Push
from webhook.services import Services


def split_by_paths(
    found: Services, project_name: str, push: Push, payload: dict[str, Any], routed: list[str]
) -> tuple[list[str], list[str]]:
    """(environments to queue, environments whose watched paths the push provably missed)."""
    project = found.settings.projects[project_name]
    files = changed_files(push.provider, payload)
    queue: list[str] = []
    ignore: list[str] = []
    for name in routed:
        environment = project.environments[name]
        live = None
        if environment.paths is not None and files is not None:
            live = _live_commit(found, environment.target)
        verdict = intake_verdict(environment, live, push.before, files)
        (ignore if verdict == "ignore" else queue).append(name)
    return queue, ignore


def _live_commit(found: Services, target: str) -> str | None:
    """The live commit, or None when unknown: Redis failing here only means "not proven"
    (the submit that follows answers 503 if Redis is really down)."""
    try:
        record = read_last_good(found.redis, target)
    except (RedisError, ValueError):
        return None
    return str(record["sha"]) if record and record.get("sha") else None
