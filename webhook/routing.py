"""Which environments a push deploys: one pure function over the project's triggers."""

from __future__ import annotations

from config import Project
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
        if environment.trigger.matches(push.ref_kind, push.ref_name)
    )
