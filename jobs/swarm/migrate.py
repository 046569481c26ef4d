"""The migration on a swarm: a one-off task of the new image on the stack's networks.

`docker service create --restart-condition none --replicas 1`: Swarm runs the command once, on
whichever node it picks, and starts no other when it ends. deployhook waits for the task to end
(`complete`, or `failed`/`rejected`), puts everything it printed into the deploy log, and
removes the service whatever happened. Its image is the one the swap is about to deploy (the
digest the build stage pushed); its environment is the configured service's, as Compose reads
it, handed over in a 0600 file so that no value of it shows in the deploy log's argv.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from config.model import Migrate
from jobs.compose.model import read_model
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.failures.failure import Failure
from jobs.swarm import commands
from jobs.swarm.model import read_stack
from jobs.swarm.tasks import node_labels, service_images

ENDED = ("complete", "failed", "rejected", "shutdown", "orphaned", "remove")
POLL_SECONDS = 0.5
DEPLOY_LABEL = "dev.deployhook.deploy"


def task_name(stack: str, deploy_id: str) -> str:
    return f"{stack}_migrate_{deploy_id.rsplit('-', 1)[-1][:12]}"


def run_migration_task(ctx: DeployContext, settings: Migrate) -> None:
    stack_name = ctx.environment.compose.project
    service = settings.service
    image = ctx.deploy.image_digests.get(service) or service_images(ctx.docker, stack_name).get(
        service
    )
    if not image:
        raise StageFailed("migrate", f"no image for migrate.service {service}: not in the stack")
    stack = read_stack(ctx.runner, ctx.compose)
    declared = stack.service(service)
    keys = declared.networks if declared and declared.networks else ("default",)
    networks = [stack.networks.get(key, f"{stack_name}_{key}") for key in keys]
    model = read_model(ctx.runner, ctx.compose).service(service)
    environment = dict(model.environment) if model else {}
    name = task_name(stack_name, ctx.deploy.id)
    timeout = ctx.environment.swarm_settings.task_timeout or settings.timeout
    with tempfile.TemporaryDirectory(prefix="dh-migrate-") as scratch:
        env_file = Path(scratch) / "env"
        descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.writelines(f"{key}={value}\n" for key, value in sorted(environment.items()))
        argv = commands.create_task(
            name,
            image,
            settings.command,
            networks=networks,
            env_file=str(env_file),
            labels={DEPLOY_LABEL: ctx.deploy.id},
        )
        try:
            ctx.runner.run(argv, timeout=120)
        except CommandFailed as failed:
            raise StageFailed("migrate", str(failed), command=failed) from None
    try:
        state, where, why = _wait_ended(ctx, name, timeout)
        ctx.log.info(f"migration task {name} on {where}: {state}")
        output = _logs(ctx, name)
    finally:
        _remove(ctx, name)
    if state != "complete":
        # The task's own output names the cause (psql's ERROR:, alembic's exception): found by
        # jobs/failures/finder.py, not cut from its end.
        summary = f"migration task {state} on {where}: {why}"
        failure = Failure.of_command("migrate", summary, settings.command, None, output)
        raise StageFailed.of(failure)


def _wait_ended(ctx: DeployContext, name: str, timeout: float) -> tuple[str, str, str]:
    deadline = time.monotonic() + timeout
    seen = "not scheduled yet"
    while time.monotonic() < deadline:
        tasks = ctx.docker.api.tasks(filters={"service": name})
        for task in tasks:
            status = task.get("Status") or {}
            state = str(status.get("State", ""))
            node = node_labels(ctx.docker).get(str(task.get("NodeID", "")), "no node")
            seen = f"{state} on {node}"
            if state in ENDED:
                return state, node, str(status.get("Err") or "")
        time.sleep(POLL_SECONDS)
    raise StageFailed("migrate", f"migration task not ended within {timeout:.0f}s; last: {seen}")


def _logs(ctx: DeployContext, name: str) -> str:
    try:
        return ctx.runner.run(commands.task_logs(name), timeout=120, read_only=True).output
    except CommandFailed as error:
        return f"(its logs could not be read: {error})"


def _remove(ctx: DeployContext, name: str) -> None:
    try:
        ctx.runner.run(commands.remove_task(name), timeout=120)
    except CommandFailed as error:
        ctx.log.info(f"the migration task {name} was not removed: {error}")
