"""What each environment looks like right now: current commit, last deploy, lock and queue.

The lock, "last good", held deploys, poll and drill come from jobs/state/environment.py, the one
read the pages, /metrics and the CLI share; it reads them defensively.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from rq import Queue

from config import Environment, Settings
from config.targets import target_of
from jobs.gates.summary import gate_facts
from jobs.state import Connection, RedisError
from jobs.state.drills import DrillResult
from jobs.state.environment import read_environments
from jobs.state.lastgood import LastGood
from jobs.state.owners import Lock
from jobs.state.polls import PollState
from jobs.state.records import Deploy, DeployStore

__all__ = ["EnvironmentStatus", "LastGood", "Lock", "environment_statuses"]


@dataclass(frozen=True)
class Triggers:
    """What else starts or shapes a deploy here: path filter, polling, pulled images, profiles."""

    paths: list[str] | None = None
    images: str = "build"
    profiles: list[str] = field(default_factory=list)
    poll: dict[str, Any] | None = None  # PollState: interval, last_at, next_at, result


def triggers_of(config: Environment, raw_poll: bytes | str | None) -> Triggers:
    poll = None
    if config.poll is not None:
        state = PollState.from_json(raw_poll, config.poll.interval)
        poll = {k: v for k, v in asdict(state).items() if k != "seen"}
    return Triggers(
        paths=list(config.paths) if config.paths is not None else None,
        images=config.images,
        profiles=list(config.compose.profiles),
        poll=poll,
    )


@dataclass(frozen=True)
class EnvironmentStatus:
    project: str
    environment: str
    production: bool
    url: str | None
    queue: str
    queue_length: int | None  # None: the queue could not be read
    lock: Lock
    last_good: LastGood | None  # None: never deployed successfully
    last_deploy: Deploy | None
    # Release gates (jobs/gates/): one line each, and the deploys held (operator lock, window).
    gates: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    triggers: Triggers = field(default_factory=lambda: Triggers())
    # With backups.offsite: the last restore drill (jobs/offsite/drill.py), None before one.
    offsite: bool = False
    drill: DrillResult | None = None

    @property
    def target(self) -> str:
        return target_of(self.project, self.environment)

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "environment": self.environment,
            "target": self.target,
            "production": self.production,
            "url": self.url,
            "queue": self.queue,
            "queue_length": self.queue_length,
            "lock": asdict(self.lock),
            "last_good": asdict(self.last_good) if self.last_good else None,
            "last_deploy": self.last_deploy.as_dict() if self.last_deploy else None,
            "gates": list(self.gates),
            "held": list(self.held),
            "triggers": asdict(self.triggers),
            "offsite": self.offsite,
            "drill": asdict(self.drill) if self.drill else None,
        }


def queue_length(connection: Connection, name: str) -> int | None:
    try:
        return len(Queue(name, connection=connection))
    except RedisError:
        return None


def environment_statuses(settings: Settings, connection: Connection) -> list[EnvironmentStatus]:
    """The current state of every configured environment, read in a few Redis round trips."""
    configured = settings.every_environment()
    states = read_environments(connection, [config.target for config in configured])
    now = datetime.now(UTC)
    store = DeployStore(connection)
    lengths = {name: queue_length(connection, name) for name in settings.queues()}
    statuses = []
    for config in configured:
        state = states[config.target]
        last = store.history(config.target, limit=1)
        statuses.append(
            EnvironmentStatus(
                project=config.project_name,
                environment=config.name,
                production=config.is_production,
                url=config.url,
                queue=config.queue,
                queue_length=lengths.get(config.queue),
                lock=state.lock,
                last_good=state.last_good,
                last_deploy=last[0] if last else None,
                gates=tuple(gate_facts(config, now)),
                held=state.held,
                triggers=triggers_of(config, state.poll),
                offsite=config.backups.offsite is not None,
                drill=state.drill if config.backups.offsite is not None else None,
            )
        )
    return statuses
