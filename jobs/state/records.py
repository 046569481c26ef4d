"""The deploy record: one per deploy, kept in Redis with its log, readable by id.

A record is written whole (JSON) on every change so that a reader never sees half an update;
the log is a Redis list beside it, appended line by line while the deploy runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import WatchError

from config.targets import target_of
from jobs.state import keys
from jobs.state.ids import DEPLOY_ID, ID_HINT, new_deploy_id
from jobs.state.keys import PREFIX, REPORTS_PENDING
from jobs.state.readback import load_object, typed_fields
from jobs.state.redistext import as_text

__all__ = ["DEPLOY_ID", "PREFIX", "Deploy", "DeployStore", "RecordError", "new_deploy_id"]

State = Literal[
    "queued",
    "running",
    "succeeded",
    "failed",
    "reverted",
    "revert_failed",
    "superseded",
    "cancelled",
    "blocked",  # a release gate refused it before anything was touched (jobs/gates/)
    "interrupted",  # lost its environment's lock and stopped: see `interrupted_by`
    "skipped",  # nothing to deploy: e.g. no watched path changed (reason in `error`)
]
FINAL_STATES: frozenset[str] = frozenset(
    {
        "succeeded",
        "failed",
        "reverted",
        "revert_failed",
        "superseded",
        "cancelled",
        "blocked",
        "interrupted",
        "skipped",
    }
)
# Which transitions a deploy may make; anything else is a bug and is refused.
_ALLOWED: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "superseded", "cancelled", "failed", "blocked"}),
    # running -> superseded: the fetch found the commit already live or older than live.
    # running -> skipped: nothing to deploy (no watched path changed).
    "running": frozenset(
        {
            "succeeded",
            "failed",
            "reverted",
            "revert_failed",
            "cancelled",
            "superseded",
            "interrupted",
            "skipped",
        }
    ),
}
LOG_LIMIT = 20_000  # lines kept per deploy; older lines are dropped first, and say so
LINE_LIMIT = 4_000  # characters kept of one log line; the rest is cut, and says so
LOG_CUT = f"[earlier lines cut: a deploy log keeps its last {LOG_LIMIT} lines]"


class RecordError(Exception):
    """A deploy record is missing, already exists, or a state change is not allowed."""


def utcnow() -> str:
    return utc_time(time.time())


def utc_time(seconds: float) -> str:
    """Unix time `seconds` as the records write times: 2026-12-07T02:30:00.000Z."""
    when = datetime.fromtimestamp(seconds, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


Outcome = Literal["running", "ok", "failed", "skipped"]


@dataclass
class StageRecord:
    name: str
    started_at: str
    finished_at: str | None = None
    outcome: Outcome = "running"
    detail: str = ""


@dataclass
class Deploy:
    id: str
    project: str
    environment: str
    ref_kind: Literal["branch", "tag", "sha"]
    ref_name: str
    sha: str
    trigger: str  # "github push", "gitlab tag push", "manual", "rollback", ...
    delivery_id: str = ""
    sender: str = ""
    before_sha: str = ""  # what the payload says the ref pointed at before the push
    state: State = "queued"
    created_at: str = field(default_factory=utcnow)
    started_at: str | None = None
    finished_at: str | None = None
    previous_sha: str | None = None  # what the environment ran before this deploy
    error: str | None = None
    failed_stage: str | None = None
    # The failure as data (jobs/failures/failure.py: stage, summary, argv, exit code, the lines
    # that matter), read back with Failure.from_json; records before it hold `error` only.
    failure: dict[str, Any] | None = None
    restored_backup: str | None = None
    # What the migrate stage did to the database, by version and schema fingerprint:
    # None when no migration ran; "unknown" when it could not be fingerprinted afterwards.
    database_change: Literal["unchanged", "changed", "unknown"] | None = None
    # The database as it was just before a restore (a verified dump), and since when the
    # writes it holds were discarded by that restore (UTC ISO time the backup was taken).
    kept_database: str | None = None
    kept_writes_since: str | None = None
    # The standby database a restore is being prepared in (jobs/database/standby.py), so that
    # a worker that recovers this deploy after a crash can drop it.
    standby_database: str | None = None
    # The migration rehearsal (migrate.rehearse): its migration's seconds, and whether that
    # exceeded rehearse.slow_after.
    rehearsal_seconds: float | None = None
    rehearsal_slow: bool = False
    worker: str | None = None  # host:pid of the worker running it
    # images: pull: service -> the pulled image pinned by digest (repo@sha256:...), which a
    # revert or a rollback to this deploy starts again even after the tag moved.
    image_digests: dict[str, str] = field(default_factory=dict)
    # Release gates (jobs/gates/): what a queued deploy waits for ("CI checks", "deploy
    # window"), the gate that blocked it, and the operator's reason for overriding the gates.
    waiting_for: str | None = None
    blocked_by: str | None = None
    override_reason: str | None = None
    stages: list[StageRecord] = field(default_factory=list)
    # What the deploy was asked to do besides deploying `sha`.
    rollback_to: str | None = None  # the succeeded deploy a rollback returns to
    restore_backup: str | None = None  # a rollback's backup to restore after the swap
    redeploy_of: str | None = None  # the deploy a manual redeploy repeats
    # What the stages found and did (kept so that recovery and reporters can read them).
    previous_images: dict[str, str] = field(default_factory=dict)  # service -> image ID
    image_names: dict[str, str] = field(default_factory=dict)  # service -> built image name
    images: dict[str, str] = field(default_factory=dict)  # service -> built image ID
    build: Literal["built", "reused", "pulled"] | None = None
    backup: str | None = None  # the backup file this deploy took
    # Off-site copies (jobs/offsite/): the restic snapshot of this deploy's backup, or why
    # there is none; the same for a kept dump; the snapshot a restore fetched back.
    offsite_snapshot: str | None = None
    offsite_error: str | None = None
    kept_offsite_snapshot: str | None = None
    kept_offsite_error: str | None = None
    fetched_snapshot: str | None = None
    # SOPS files this deploy decrypted into the checkout (jobs/secrets/), repository paths.
    decrypted_files: list[str] = field(default_factory=list)
    retired_services: list[str] = field(default_factory=list)  # a revert stopped these
    revert_error: str | None = None
    interrupted_by: str | None = None  # who held the lock when this deploy lost it
    # A zero-downtime swap's old containers, out of their service's name and still draining
    # (container id -> UTC time their drain ends), until they are gone: a worker that dies
    # meanwhile leaves them to the next start or deploy (jobs/runbook/drains.py).
    draining: dict[str, str] = field(default_factory=dict)
    # What went wrong without changing the outcome (an old container that could not be
    # removed): shown with the deploy and reported, also when it comes after the final report.
    warnings: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return target_of(self.project, self.environment)

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    def to_json(self) -> str:
        # Shallow, not asdict(): json.dumps walks the nested values itself, and asdict's deep
        # copy was most of the cost of queueing a deploy.
        data = {**vars(self), "stages": [vars(stage) for stage in self.stages]}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Deploy:
        """The record stored as `text`; RecordError only when it is not a JSON object at all.

        Whatever else is stored (wrong types, unencodable text) reads back as sane values, so
        that no record can break a page, the CLI or a reporter.
        """
        try:
            data = load_object(text)
        except ValueError as error:
            raise RecordError(f"unreadable deploy record: {error}") from None
        # Records of older versions kept these facts in an untyped `extra` dict.
        legacy = data.pop("extra", None)
        for key, value in (legacy if isinstance(legacy, dict) else {}).items():
            data.setdefault(key, value)
        data = typed_fields(cls, data)
        for name in ("warnings", "draining"):  # text items only: each is shown or parsed
            value = data.get(name)
            if isinstance(value, list):
                data[name] = [item for item in value if isinstance(item, str)]
            elif isinstance(value, dict):
                data[name] = {k: v for k, v in value.items() if isinstance(v, str)}
        data["stages"] = [
            StageRecord(**typed_fields(StageRecord, stage))
            for stage in data.get("stages", [])
            if isinstance(stage, dict)
        ]
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_deploy_key = keys.deploy
_log_key = keys.log
events_key = keys.events  # snapshots of the record at each state change, for the reporters
REPORTS_PENDING_KEY = REPORTS_PENDING
_commands_key = keys.commands
_problems_key = keys.reporting_problems
_history_key = keys.history


def _write_record(pipe: Pipeline, deploy: Deploy, keepttl: bool = False) -> None:
    """Write the record and, in the same transaction, its snapshot for the reporters."""
    text = deploy.to_json()  # once: the record and its snapshot are the same text
    pipe.set(_deploy_key(deploy.id), text, keepttl=keepttl)
    pipe.rpush(events_key(deploy.id), text)
    pipe.expire(events_key(deploy.id), 30 * 24 * 3600)
    pipe.rpush(REPORTS_PENDING_KEY, deploy.id)


def _queue_create(pipe: Pipeline, deploy: Deploy) -> None:
    score = time.time()
    _write_record(pipe, deploy)
    # Bounded by history retention (jobs/state/retention.py), which removes whole deploys: a
    # trim here would leave their records and logs behind.
    for key in (_history_key(), _history_key(deploy.target)):
        pipe.zadd(key, {deploy.id: score})


class DeployStore:
    """Reads and writes deploy records, their logs and the history indexes."""

    def __init__(self, connection: Redis, keep_days: int | None = None) -> None:
        self.redis = connection
        # With it, a deploy's keys expire this many days after it finishes (history.keep_days).
        self.keep_seconds = keep_days * 24 * 3600 if keep_days is not None else None

    def create(self, deploy: Deploy, pipeline: Pipeline | None = None) -> None:
        """Write a new record and index it; pass a pipeline to make it part of a transaction.

        An existing record of the same id is never overwritten: RecordError. A caller that
        passes its transaction checks that itself, under WATCH (jobs/state/submit.py).
        """
        if pipeline is not None:
            _queue_create(pipeline, deploy)
            return
        key = _deploy_key(deploy.id)
        with self.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                if pipe.exists(key):
                    raise RecordError(f"deploy {deploy.id} already exists; not overwritten")
                pipe.multi()
                _queue_create(pipe, deploy)
                pipe.execute()
            except WatchError:
                raise RecordError(f"deploy {deploy.id} already exists; not overwritten") from None

    def exists(self, deploy_id: str) -> bool:
        return bool(self.redis.exists(_deploy_key(deploy_id)))

    def get(self, deploy_id: str) -> Deploy:
        if not DEPLOY_ID.match(deploy_id):
            raise RecordError(f"{deploy_id!r} is not a deploy id (expected {ID_HINT})")
        raw = self.redis.get(_deploy_key(deploy_id))
        if raw is None:
            raise RecordError(f"no deploy {deploy_id}")
        return Deploy.from_json(raw)

    def save(self, deploy: Deploy) -> None:
        self.redis.set(_deploy_key(deploy.id), deploy.to_json())

    def transition(self, deploy: Deploy, state: State, **changes: Any) -> Deploy:
        """Move a deploy to `state`, refusing moves the state machine does not allow."""
        allowed = _ALLOWED.get(deploy.state, frozenset())
        if state not in allowed:
            raise RecordError(f"deploy {deploy.id}: cannot go from {deploy.state} to {state}")
        deploy.state = state
        for name, value in changes.items():
            setattr(deploy, name, value)
        if state == "running" and deploy.started_at is None:
            deploy.started_at = utcnow()
        if state in FINAL_STATES:
            deploy.finished_at = utcnow()
        pipe = self.redis.pipeline(transaction=True)
        _write_record(pipe, deploy)
        if state in FINAL_STATES and self.keep_seconds is not None:
            for key in keys.deploy_keys(deploy.id):
                pipe.expire(key, self.keep_seconds)
        pipe.execute()
        return deploy

    def note(self, deploy: Deploy) -> None:
        """Write the record with a snapshot for the reporters, without a state change."""
        pipe = self.redis.pipeline(transaction=True)
        _write_record(pipe, deploy)
        pipe.execute()

    def amend(self, deploy: Deploy, *, report: bool) -> None:
        """Write a finished deploy's record again, its expiry unchanged: what it left behind
        changed after its end. With `report`, with a snapshot for the reporters: a follow-up
        report (a warning that came after the final one)."""
        pipe = self.redis.pipeline(transaction=True)
        if report:
            _write_record(pipe, deploy, keepttl=True)
        else:
            pipe.set(_deploy_key(deploy.id), deploy.to_json(), keepttl=True)
        pipe.execute()

    def append_command(self, deploy_id: str, command: dict[str, Any]) -> None:
        """Keep what ran (argv, exit status, duration) beside the log, for the history."""
        self.redis.rpush(_commands_key(deploy_id), json.dumps(command))

    def commands(self, deploy_id: str) -> list[dict[str, Any]]:
        raw = self.redis.lrange(_commands_key(deploy_id), 0, -1)
        return [entry for item in raw if isinstance(entry := _json_or_none(item), dict)]

    def add_reporting_problem(self, deploy_id: str, problem: str) -> None:
        """Record that a reporter could not deliver; shown with the deploy, never fatal."""
        self.redis.rpush(_problems_key(deploy_id), problem)
        self.redis.ltrim(_problems_key(deploy_id), -200, -1)

    def reporting_problems(self, deploy_id: str) -> list[str]:
        return [as_text(line) for line in self.redis.lrange(_problems_key(deploy_id), 0, -1)]

    def append_log(self, deploy_id: str, *lines: str) -> None:
        """Append lines, each cut at LINE_LIMIT characters; past LOG_LIMIT lines the oldest go
        and the first line says so. Cuts are marked, never silent."""
        if not lines:
            return
        key = _log_key(deploy_id)
        length = self.redis.rpush(key, *[_capped(line) for line in lines])
        if length > LOG_LIMIT:
            pipe = self.redis.pipeline(transaction=True)
            pipe.ltrim(key, -(LOG_LIMIT - 1), -1)
            pipe.lpush(key, LOG_CUT)
            pipe.execute()

    def log(self, deploy_id: str, start: int = 0) -> list[str]:
        raw = self.redis.lrange(_log_key(deploy_id), start, -1)
        return [as_text(line) for line in raw]

    def expire_log(self, deploy_id: str, seconds: int) -> None:
        """Let the log and commands of an operator's action (no record) go after `seconds`."""
        for key in (_log_key(deploy_id), _commands_key(deploy_id)):
            self.redis.expire(key, seconds)

    def history(self, target: str | None = None, limit: int = 50) -> list[Deploy]:
        ids = self.redis.zrevrange(_history_key(target), 0, max(limit, 1) - 1)
        records = self.redis.mget([_deploy_key(as_text(i)) for i in ids]) if ids else []
        return [deploy for raw in records if raw is not None and (deploy := _readable(raw))]


def _capped(line: str) -> str:
    if len(line) <= LINE_LIMIT:
        return line
    return f"{line[:LINE_LIMIT]} [line cut: {len(line) - LINE_LIMIT} more characters]"


def _readable(raw: bytes | str) -> Deploy | None:
    """A history entry's record, or None when it is not a record at all (it is left out)."""
    try:
        return Deploy.from_json(raw)
    except RecordError:
        return None


def _json_or_none(item: bytes | str) -> Any:
    try:
        return load_object(item)
    except ValueError:
        return None
