"""Everything one deploy's stages share: its record, settings, log, runner and compose argv."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from config import Environment, Settings
from jobs.commands.compose import Compose, detect_compose
from jobs.commands.environ import minimal_environ
from jobs.execution.deploylog import DeployLog
from jobs.execution.docker_sdk import docker_client
from jobs.execution.runner import Runner
from jobs.state.locks import EnvironmentLock
from jobs.state.records import FINAL_STATES, Deploy, DeployStore, utc_time

if TYPE_CHECKING:
    # Types only: the compose and database rooms take a context, so a runtime import of
    # theirs from here would run back up.
    from jobs.compose.model import ComposeModel
    from jobs.database.standby_thread import Standby
    from jobs.database.watch import Fingerprint, FingerprintRead
    from jobs.runbook.stages.retiring import Retiring


def command_environ(environment: Environment, secrets: Collection[str]) -> dict[str, str]:
    """The environment variables of every command a deploy of `environment` runs: the minimum
    plus its `env:` names, never a deployhook secret (`secrets`: secret_values(settings))."""
    environ = minimal_environ(os.environ, environment.env, secrets)
    if environment.docker_host is not None:
        environ["DOCKER_HOST"] = environment.docker_host
        environ.pop("DOCKER_CONTEXT", None)  # both set would leave the CLI to choose
        for name in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            environ.pop(name, None)  # only the environment's docker_tls says how to reach it
    if environment.docker_tls is not None:
        environ["DOCKER_TLS_VERIFY"] = "1"
        environ["DOCKER_CERT_PATH"] = str(environment.docker_tls.cert_path)
    return environ


@dataclass(frozen=True)
class Tools:
    """What the lower rooms (database, offsite) need of a deploy, without the deploy itself:
    the runner and log its commands go through, the settings, its environment, its Compose
    argv and its engine's SDK client (made on first use: only a swarm's commands need it)."""

    runner: Runner
    log: DeployLog
    settings: Settings
    environment: Environment
    compose: Compose
    docker: Callable[[], Any]


@dataclass
class DeployContext:
    deploy: Deploy
    settings: Settings
    environment: Environment
    store: DeployStore
    log: DeployLog
    runner: Runner
    compose: Compose
    # What the environment ran before this deploy (filled by the snapshot stage).
    previous_sha: str | None = None
    previous_images: dict[str, str] = field(default_factory=dict)
    built_images: dict[str, str] = field(default_factory=dict)  # service -> image name
    # The new commit's Compose model, as the build stage read it (the swap reuses it).
    compose_model: ComposeModel | None = None
    # images: pull: service -> repo@sha256 digest of the last good deploy, for the revert.
    previous_digests: dict[str, str] = field(default_factory=dict)
    # With `paths:`: the files changed since the live commit (the paths stage's diff).
    changed_files: list[str] | None = None
    backup: str | None = None
    # The backup being restored beside the live database (jobs/database/standby.py), and
    # whether the configured role may create databases (asked once, when first needed).
    standby: Standby | None = None
    # The database's fingerprints around a migration, read in threads (jobs/database/watch.py):
    # the opening one beside the checkout and the build, the closing one beside the swap
    # (which ends by recording it: `then_settle`); close() waits for any still running.
    opening_fingerprint: FingerprintRead | None = None
    fingerprint_before: Fingerprint | None = None
    closing_fingerprint: FingerprintRead | None = None
    creates_databases: bool | None = None
    # The new release's decrypted SOPS files (jobs/secrets/), held in memory from the secrets
    # stage until the checkout writes them; never saved anywhere else.
    plaintexts: dict[str, bytes] | None = field(default=None, repr=False)
    # Rolling swaps' old containers, draining beside the rest of the deploy
    # (jobs/runbook/stages/retiring.py): waited for in close(), before the lock is released.
    retiring: list[Retiring] = field(default_factory=list)
    # Held while the swap creates, starts, stops or removes containers (`compose up --scale`
    # counts those that exist), or reconnects a running one (which must find no address taken
    # or freed while it keeps its own: jobs/runbook/stages/address_holds.py).
    containers_lock: threading.Lock = field(default_factory=threading.Lock)
    # container id -> when its drain ends (UTC), for each old container seen retiring.
    drain_ends: dict[str, str] = field(default_factory=dict)

    @cached_property
    def docker(self) -> Any:
        return docker_client(self.environment)

    @cached_property
    def tools(self) -> Tools:
        return Tools(
            self.runner,
            self.log,
            self.settings,
            self.environment,
            self.compose,
            lambda: self.docker,
        )

    def started(self, stage: str) -> bool:
        return any(record.name == stage for record in self.deploy.stages)

    def save(self) -> None:
        self.note_draining()
        self.store.save(self.deploy)

    def note_draining(self) -> None:
        """The record's `draining`: the old containers still retiring, with when their drain
        ends (at the latest), so that the next worker start or deploy can end a drain whose
        worker died (jobs/runbook/drains.py). Entries this deploy did not make stay."""
        current: dict[str, str] = {}
        for retiring in self.retiring:
            ends = utc_time(time.time() + retiring.drain)
            for ident in retiring.container_ids():
                current[ident] = self.drain_ends.setdefault(ident, ends)
        others = {k: v for k, v in self.deploy.draining.items() if k not in self.drain_ends}
        self.deploy.draining = {**others, **current}

    def retiring_ids(self) -> set[str]:
        """Containers out of their service's name on their way out: no part of the stack."""
        return {ident for retiring in self.retiring for ident in retiring.container_ids()}

    def close(self) -> None:
        for read in (self.opening_fingerprint, self.closing_fingerprint):
            if read is not None:  # the deploy ended before it was used
                read.wait()  # no read outlives the deploy and its lock
        warned = len(self.deploy.warnings)
        for retiring in self.retiring:  # the deploy ends when its old containers are gone
            retiring.wait()  # a failure is a warning on the record
        if self.retiring:
            if self.deploy.state not in FINAL_STATES:
                self.save()
            else:  # a warning now comes after the final report: a follow-up one
                self.note_draining()
                self.store.amend(self.deploy, report=len(self.deploy.warnings) > warned)
        if "docker" in self.__dict__:
            self.docker.close()


def new_context(
    record: Deploy,
    settings: Settings,
    store: DeployStore,
    log: DeployLog,
    lock: EnvironmentLock | None = None,
) -> DeployContext:
    """The context of one deploy; with `lock`, every changing command is fenced by it."""
    environment = settings.environment(record.project, record.environment)
    compose = Compose.for_environment(environment, detect_compose(environment.compose.command))
    return DeployContext(
        deploy=record,
        settings=settings,
        environment=environment,
        store=store,
        log=log,
        runner=Runner(
            log, command_environ(environment, secret_values(settings)), lock.check if lock else None
        ),
        compose=compose,
    )


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret, so the deploy log can mask them wherever they show up."""
    found: list[str] = []

    def walk(node: object) -> None:
        from config.secrets import Secret

        if isinstance(node, Secret):
            found.append(node.reveal())
        elif hasattr(node, "__pydantic_fields__"):
            for field in type(node).__pydantic_fields__:
                walk(getattr(node, field))
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(settings)
    return found
