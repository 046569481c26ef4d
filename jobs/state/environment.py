"""An environment's state as Redis holds it: lock, last good deploy, held deploys, poll, drill.

The one read behind the status pages, /metrics and the CLI, in a single round trip however
many environments are asked for. Values are read defensively: an absent or malformed one shows
as "unknown" (or None) instead of breaking the pages operators need most when something is
wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis import Redis

from jobs.state import keys
from jobs.state.drills import DrillResult, parse_drill
from jobs.state.lastgood import LastGood, parse_last_good
from jobs.state.owners import Lock, parse_lock
from jobs.state.redistext import as_text


@dataclass(frozen=True)
class EnvironmentState:
    lock: Lock
    last_good: LastGood | None  # None: never deployed successfully
    held: tuple[str, ...]  # deploy ids an operator lock or a deploy window holds, oldest first
    poll: bytes | None  # the last poll's JSON (jobs/state/polls.py reads it with its interval)
    drill: DrillResult | None  # the last restore drill, None before one


def read_environments(connection: Redis, targets: Sequence[str]) -> dict[str, EnvironmentState]:
    """target ("project/environment") -> its state, for every target asked."""
    pipe = connection.pipeline(transaction=False)
    for target in targets:
        pipe.get(keys.lock(target))
        pipe.get(keys.last_good(target))
        pipe.lrange(keys.held(target), 0, -1)
        pipe.get(keys.poll_state(target))
        pipe.get(keys.backup_drill(target))
    raw = pipe.execute()
    states = {}
    for index, target in enumerate(targets):
        lock, last_good, held, poll, drill = raw[5 * index : 5 * index + 5]
        states[target] = EnvironmentState(
            lock=parse_lock(lock),
            last_good=parse_last_good(last_good),
            held=tuple(as_text(item) for item in held),
            poll=poll,
            drill=parse_drill(drill),
        )
    return states


def read_environment(connection: Redis, target: str) -> EnvironmentState:
    return read_environments(connection, [target])[target]
