"""Everything one deploy's stages share: its record, settings, log, runner and compose argv."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import docker

from config import Environment, Settings
from jobs.commands.compose import Compose
from jobs.deploylog import DeployLog
from jobs.record import Deploy, DeployStore
from jobs.runner import Runner


def docker_client(environment: Environment) -> Any:
    """The SDK client for the environment's daemon: its docker_host, else the worker's own."""
    if environment.docker_host is None:
        return docker.from_env(timeout=120)
    # use_ssh_client: the ssh binary, so ~/.ssh/config and known_hosts apply as for `docker`.
    return docker.DockerClient(base_url=environment.docker_host, timeout=120, use_ssh_client=True)


def command_environ(environment: Environment) -> dict[str, str]:
    """The environment variables of every command a deploy of `environment` runs."""
    environ = dict(os.environ)
    if environment.docker_host is not None:
        environ["DOCKER_HOST"] = environment.docker_host
        environ.pop("DOCKER_CONTEXT", None)  # both set would leave the CLI to choose
    return environ


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
    # images: pull: service -> repo@sha256 digest of the last good deploy, for the revert.
    previous_digests: dict[str, str] = field(default_factory=dict)
    # With `paths:`: the files changed since the live commit (the paths stage's diff).
    changed_files: list[str] | None = None
    backup: str | None = None

    @cached_property
    def docker(self) -> Any:
        return docker_client(self.environment)

    def started(self, stage: str) -> bool:
        return any(record.name == stage for record in self.deploy.stages)

    def save(self) -> None:
        self.store.save(self.deploy)

    def close(self) -> None:
        if "docker" in self.__dict__:
            self.docker.close()
