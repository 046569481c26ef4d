"""Reading the deploy history the way the page and the API ask for it: filtered and bounded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args

from config import Settings
from config.targets import split_target
from jobs.state.records import Deploy, DeployStore, State

DIGITS = re.compile(r"[0-9]{1,12}")
STATES: tuple[str, ...] = get_args(State)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# A state filter looks this far back; enough for months of deploys, cheap to read.
SCAN_LIMIT = 1000


class BadQuery(ValueError):
    """A query parameter has a value the page or API cannot use; the message says which."""


@dataclass(frozen=True)
class HistoryQuery:
    environment: str | None = None  # "project/env"
    state: str | None = None
    limit: int = DEFAULT_LIMIT


def parse_int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses (a 500).
    if not DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise BadQuery(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def parse_history_query(args: Mapping[str, str], settings: Settings) -> HistoryQuery:
    environment = args.get("environment") or None
    if environment is not None:
        project, env = split_target(environment)
        known = settings.projects.get(project)
        if known is None or env not in known.environments:
            raise BadQuery(
                f"environment must be one of the configured project/environment names, "
                f"got {environment!r}"
            )
    state = args.get("state") or None
    if state is not None and state not in STATES:
        raise BadQuery(f"state must be one of {', '.join(STATES)}, got {state!r}")
    limit = parse_int(args.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    return HistoryQuery(environment, state, limit)


def find_deploys(store: DeployStore, query: HistoryQuery) -> list[Deploy]:
    """The newest deploys matching the query, newest first, at most `query.limit`."""
    if query.state is None:
        return store.history(query.environment, limit=query.limit)
    scanned = store.history(query.environment, limit=SCAN_LIMIT)
    return [deploy for deploy in scanned if deploy.state == query.state][: query.limit]
