"""Everything one deploy's stages share: its record, settings, log, runner and compose argv."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import docker

from config import Environment, Settings
from jobs.commands.compose import Compose
from jobs.deploylog import DeployLog
from jobs.record import Deploy, DeployStore
from jobs.runner import Runner


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
    backup: str | None = None

    @cached_property
    def docker(self) -> Any:
        return docker.from_env(timeout=120)

    def started(self, stage: str) -> bool:
        return any(record.name == stage for record in self.deploy.stages)

    def save(self) -> None:
        self.store.save(self.deploy)

    def close(self) -> None:
        if "docker" in self.__dict__:
            self.docker.close()
