"""Polling: ask each polled environment's remote for its trigger ref, queue what is new.

Runs in the worker process, on one small thread (`start_polling`), never in the web tier. A new
commit is submitted exactly as a webhook's would be (same DeployRequest, same commit dedupe), so
a webhook and a poll for one commit deploy once, whichever comes first.

What counts as new, per environment (`decide`, pure and table-tested):
- branch: the branch's commit differs from the one the last poll saw; on the first poll, from
  the live (last good) commit;
- tag pattern: a matching tag that the last poll did not see (or that moved), the highest by
  version when several appear; the first poll only records the tags it finds, unless nothing
  is live yet.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from config import Environment, Settings
from jobs.execution.context import command_environ, secret_values
from jobs.execution.deploylog import DeployLog
from jobs.execution.periodic import start_periodic
from jobs.execution.runner import Runner
from jobs.failures.errors import CommandFailed
from jobs.state import Connection, RedisError
from jobs.state.lastgood import read_last_good
from jobs.state.polls import PollState, keep_poll, read_poll
from jobs.state.records import DeployStore
from jobs.state.submit import DeployRequest, Duplicate, QueueUnavailable, submit
from jobs.triggers.remote import list_remote, matching, refs_to_ask, version_key

logger = logging.getLogger("deployhook.poll")
POLL_TRIGGER = "poll"
LOG_KEEP_SECONDS = 24 * 3600  # the last poll's log and commands, for `deployhook log`
TICK_SECONDS = 1.0


@dataclass(frozen=True)
class Found:
    ref_name: str
    sha: str


def decide(
    kind: str, now: dict[str, str], seen: dict[str, str] | None, live: str | None
) -> Found | None:
    """The ref and commit to deploy, if the remote shows something new (see the module doc)."""
    if kind == "branch":
        if not now:
            return None
        name, sha = next(iter(now.items()))
        before = seen.get(name) if seen is not None else live
        return None if sha == before else Found(name, sha)
    if seen is None and live is not None:
        return None  # first poll of a tag pattern: the tags that exist are history
    new = [name for name, sha in now.items() if (seen or {}).get(name) != sha]
    if not new:
        return None
    newest = max(new, key=version_key)
    return None if now[newest] == live else Found(newest, now[newest])


def poll_once(
    settings: Settings, connection: Connection, project: str, name: str, state: PollState
) -> str:
    """One poll of one environment: ask the remote, queue a deploy if new; say what happened."""
    environment = settings.environment(project, name)
    target = environment.target
    store = DeployStore(connection)
    log_id = f"poll:{target}"
    store.expire_log(log_id, 0)  # keep only the latest poll's lines
    log = DeployLog(store, log_id, secret_values(settings))
    runner = Runner(log, command_environ(environment, secret_values(settings)))
    try:
        # A question to the remote: changes nothing, needs no lock (read-only).
        listing = list_remote(
            runner, environment, refs_to_ask(environment.trigger), environment.timeouts.fetch
        )
    except CommandFailed as error:
        said = error.cause(200)
        return log.mask(f"ls-remote failed: {said} ({error})")
    except OSError as error:
        return f"ls-remote failed: {error.strerror or error}"
    finally:
        store.expire_log(log_id, LOG_KEEP_SECONDS)
    now = matching(environment.trigger, listing)
    last_good = read_last_good(connection, target)
    live = str(last_good["sha"]) if last_good and last_good.get("sha") else None
    found = decide(environment.trigger.kind, now, state.seen, live)
    previous = dict(state.seen or {})
    state.seen = now
    if found is None:
        return "nothing new" if now else f"no {environment.trigger.kind} matches on the remote"
    request = DeployRequest(
        project=project,
        environment=name,
        ref_kind=environment.trigger.kind,
        ref_name=found.ref_name,
        sha=found.sha,
        trigger=POLL_TRIGGER,
        sender="poll",
        before_sha=previous.get(found.ref_name) or live or "",
        dedupe_commit=True,
    )
    try:
        outcome = submit(connection, settings, [request])
    except QueueUnavailable as error:
        state.seen = previous or None  # try again next time
        return f"could not queue {found.sha[:12]}: {error}"
    if isinstance(outcome, Duplicate):
        return f"{found.ref_name} at {found.sha[:12]}: already queued as {outcome.deploy_id}"
    return f"queued {outcome.deploys[0].id} for {found.ref_name} at {found.sha[:12]}"


def polled(settings: Settings, queues: list[str]) -> list[tuple[str, str, Environment]]:
    """(project, environment, config) of every polled environment this worker's queues run."""
    return [
        (project_name, env_name, environment)
        for project_name, project in sorted(settings.projects.items())
        for env_name, environment in sorted(project.environments.items())
        if environment.poll is not None and environment.queue in queues
    ]


@dataclass
class Poller:
    settings: Settings
    connection: Connection
    queues: list[str]
    clock: Callable[[], float] = time.time
    due: dict[str, float] = field(default_factory=dict)

    def tick(self) -> None:
        """Poll every environment whose time has come; record its state and next time."""
        for project, name, environment in polled(self.settings, self.queues):
            interval = environment.poll.interval if environment.poll else 60.0
            target = environment.target
            if self.clock() < self.due.get(target, 0.0):
                continue
            state = read_poll(self.connection, target, interval)
            try:
                state.result = poll_once(self.settings, self.connection, project, name, state)
            except RedisError:
                raise  # the loop pauses polling; nothing is lost, the next tick tries again
            except Exception as error:
                logger.exception("poll of %s failed", target)
                state.result = f"poll failed: {type(error).__name__}: {error}"
            finished = self.clock()
            self.due[target] = finished + interval
            state.last_at = _stamp(finished)
            state.next_at = _stamp(self.due[target])
            keep_poll(self.connection, target, state)
            logger.info(json.dumps({"target": target, "poll": state.result}))


def start_polling(
    settings: Settings, connection: Connection, queues: list[str]
) -> Callable[[], None]:
    """Run a Poller on a daemon thread beside the worker; returns the function that stops it."""
    poller = Poller(settings, connection, queues)
    if not polled(settings, queues):
        return lambda: None
    return start_periodic("deployhook-poll", TICK_SECONDS, poller.tick, logger, join_timeout=5)


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
