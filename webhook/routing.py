"""Which environments a push deploys: one pure function over the project's triggers."""

from __future__ import annotations

from fnmatch import fnmatchcase

from config import Project
from config.model import Trigger
from webhook.push import Push


def route(project: Project, push: Push) -> list[str]:
    """The names of the environments whose trigger matches the push, in name order.

    A branch trigger matches one branch by exact name (so `*` in it is just a character); a
    tag trigger is a glob over tag names. A branch never matches a tag trigger, nor a tag a
    branch trigger, whatever the names look like.
    """
    return sorted(
        name
        for name, environment in project.environments.items()
        if matches(environment.trigger, push.ref_kind, push.ref_name)
    )


def matches(trigger: Trigger, ref_kind: str, ref_name: str) -> bool:
    if trigger.kind != ref_kind:
        return False
    if ref_kind == "branch":
        return ref_name == trigger.pattern
    return fnmatchcase(ref_name, trigger.pattern)
