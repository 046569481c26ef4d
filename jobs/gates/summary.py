"""One line per release gate and hook point of an environment, for the status page and the API."""

from __future__ import annotations

from datetime import datetime

from config import Environment
from jobs.gates.windows import any_open, describe, next_opening


def gate_facts(environment: Environment, now: datetime) -> list[str]:
    facts = []
    if environment.promote_from:
        facts.append(f"promote from {', '.join(environment.promote_from)}")
    if environment.wait_for_checks is not None:
        facts.append(f"green CI first (waits up to {environment.wait_for_checks.timeout:.0f}s)")
    if environment.windows:
        windows = "; ".join(describe(window) for window in environment.windows)
        if any_open(environment.windows, now):
            facts.append(f"window {windows}: open now")
        else:
            opens = next_opening(environment.windows, now)
            zone = environment.windows[0].zone
            when = opens.astimezone(zone).strftime("%a %d %b %H:%M %Z") if opens else "never"
            facts.append(f"window {windows}: shut, opens {when}")
    hooks = environment.hooks.describe()
    if hooks:
        facts.append(f"hooks ({', '.join(hooks)})")
    return facts
