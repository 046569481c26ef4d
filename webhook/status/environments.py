"""What each environment looks like right now: current commit, last deploy, lock and queue.

The lock and "last good" keys are written by the deploy pipeline; they are read here
defensively, so that an absent or malformed value shows as "unknown" instead of breaking the
page that operators need most when something is wrong.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from config import Environment, Settings
from jobs.gates.summary import gate_facts
from jobs.held import held_ids
from jobs.record import DEPLOY_ID, PREFIX, Deploy, DeployStore
from jobs.triggers.keys import poll_state_key
from jobs.triggers.pollstate import PollState

LockState = Literal["free", "deploy", "operator", "unknown"]


def lock_key(target: str) -> str:
    return f"{PREFIX}:lock:{target}"


def last_good_key(target: str) -> str:
    return f"{PREFIX}:last-good:{target}"


@dataclass(frozen=True)
class Lock:
    """Who holds an environment's lock: nobody, a deploy, an operator, or unreadable."""

    state: LockState
    deploy_id: str | None = None
    host: str | None = None
    pid: int | None = None
    reason: str | None = None
    since: str | None = None


@dataclass(frozen=True)
class LastGood:
    """The commit an environment last passed its health check with (`known`: was readable)."""

    known: bool
    deploy_id: str | None = None
    sha: str | None = None
    backup: str | None = None
    at: str | None = None


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

    @property
    def target(self) -> str:
        return f"{self.project}/{self.environment}"

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
        }


def _json_object(raw: bytes | str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(raw) if raw is not None else None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_lock(raw: bytes | str | None) -> Lock:
    """Turn the lock key's value into a Lock; anything unexpected is "unknown", never an error."""
    if raw is None:
        return Lock("free")
    data = _json_object(raw)
    if data is None:
        return Lock("unknown")
    deploy_id = _text(data.get("deploy_id")) or _text(data.get("owner"))
    if deploy_id is not None and not DEPLOY_ID.match(deploy_id):
        return Lock("unknown")
    pid = data.get("pid")
    return Lock(
        state="deploy" if deploy_id else "operator",
        deploy_id=deploy_id,
        host=_text(data.get("host")),
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        reason=_text(data.get("reason")),
        since=_text(data.get("since")),
    )


def parse_last_good(raw: bytes | str | None) -> LastGood | None:
    """Turn the last-good key's value into a LastGood; None when the key is absent."""
    if raw is None:
        return None
    data = _json_object(raw)
    sha = _text(data.get("sha")) if data else None
    if data is None or sha is None:
        return LastGood(known=False)
    deploy_id = _text(data.get("deploy_id"))
    return LastGood(
        known=True,
        deploy_id=deploy_id if deploy_id and DEPLOY_ID.match(deploy_id) else None,
        sha=sha,
        backup=_text(data.get("backup")),
        at=_text(data.get("at")),
    )


def queue_length(connection: Redis, name: str) -> int | None:
    try:
        return len(Queue(name, connection=connection))
    except RedisError:
        return None


def targets(settings: Settings) -> list[tuple[str, str]]:
    """Every (project, environment) pair the configuration names, in a stable order."""
    return [
        (project_name, env_name)
        for project_name, project in sorted(settings.projects.items())
        for env_name in sorted(project.environments)
    ]


def environment_statuses(settings: Settings, connection: Redis) -> list[EnvironmentStatus]:
    """The current state of every configured environment, read in a few Redis round trips."""
    pairs = targets(settings)
    pipe = connection.pipeline(transaction=False)
    for project, environment in pairs:
        pipe.get(lock_key(f"{project}/{environment}"))
        pipe.get(last_good_key(f"{project}/{environment}"))
        pipe.get(poll_state_key(f"{project}/{environment}"))
    raw = pipe.execute()
    now = datetime.now(UTC)
    store = DeployStore(connection)
    lengths = {name: queue_length(connection, name) for name in settings.queues()}
    statuses = []
    for index, (project, environment) in enumerate(pairs):
        config = settings.environment(project, environment)
        last = store.history(f"{project}/{environment}", limit=1)
        statuses.append(
            EnvironmentStatus(
                project=project,
                environment=environment,
                production=config.is_production,
                url=config.url,
                queue=config.queue,
                queue_length=lengths.get(config.queue),
                lock=parse_lock(raw[3 * index]),
                last_good=parse_last_good(raw[3 * index + 1]),
                last_deploy=last[0] if last else None,
                gates=tuple(gate_facts(config, now)),
                held=tuple(held_ids(connection, f"{project}/{environment}")),
                triggers=triggers_of(config, raw[3 * index + 2]),
            )
        )
    return statuses
