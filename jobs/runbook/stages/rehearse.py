"""Rehearse the new migration on a throwaway copy of the pre-deploy backup (migrate.rehearse).

Runs after the build and before anything running changes: the image rehearsed is exactly the
one the migrate stage will run, built once from the operator's checkout (its untracked `.env`
included), and the service's environment comes from the new commit's Compose model. Until the
swap nothing running has changed, so a failed rehearsal only has to put the checkout and image
names back (the compensation a failed build gets) and the deploy ends `failed`, "nothing was
changed", with the migration's own error. Production's database is never reachable from here.

How the migration finds the throwaway database: the throwaway runs the database service's image,
command and environment (so the same roles and passwords are created and the same port is
used), with `--network none` and `--add-host <database service>:127.0.0.1`; the migration
container gets the migration service's environment unchanged and joins that network namespace.
A connection string naming the database service, localhost or 127.0.0.1 therefore reaches the
throwaway; any other host is unreachable and the rehearsal fails (docs/rehearsal.md).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import docker.errors

from config.model import Database, Migrate, Rehearse
from jobs.commands import docker as docker_argv
from jobs.commands import rehearsal
from jobs.commands.rehearsal import Container, Mount
from jobs.compose.model import ServiceModel, read_model
from jobs.execution.context import DeployContext
from jobs.execution.runner import Runner
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.swarm.database import NodeEngine, database_engine

READY_POLL_SECONDS = 1.0


def wants_rehearsal(ctx: DeployContext) -> bool:
    migrate, database = ctx.environment.migrate, ctx.environment.database
    return migrate is not None and migrate.rehearse is not None and database is not None


def rehearse(ctx: DeployContext) -> float:
    """Restore the backup into a throwaway database, run the migration on it; its seconds."""
    migrate, settings, database, db_service = _configured(ctx)
    if not ctx.backup:
        raise StageFailed("rehearse", "expected a verified backup to rehearse on, got none")
    model = read_model(ctx.runner, ctx.compose)  # the new commit's, with the checkout's .env
    db_spec, app_spec = (_service(model.services, name) for name in (db_service, migrate.service))
    deploy_id = ctx.deploy.id
    db_name = rehearsal.database_name(deploy_id)
    engine = database_engine(ctx)  # on a swarm: the database's node, which has its image
    try:
        with tempfile.TemporaryDirectory(prefix="deployhook-rehearse-") as scratch:
            db = _container(
                ctx, engine, db_spec, Path(scratch) / "database.env",
                name=db_name, image=_database_image(ctx, db_spec),
                network="none", detach=True, add_hosts=(f"{db_service}:127.0.0.1",),
            )  # fmt: skip
            app = _container(
                ctx, engine, app_spec, Path(scratch) / "migrate.env",
                name=rehearsal.migration_name(deploy_id), image=_migration_image(ctx, app_spec),
                network=f"container:{db_name}", command=tuple(migrate.command), entrypoint="",
            )  # fmt: skip
            try:
                engine.runner.run(rehearsal.run(db), timeout=120)
                _wait_ready(engine, db_name, database.user, database.name, settings.ready_timeout)
                engine.runner.run(
                    rehearsal.restore(db_name, database.user, database.name),
                    timeout=ctx.environment.timeouts.restore,
                    stdin_path=Path(ctx.backup),
                )
                seconds = _run_migration(engine, app, settings.timeout or migrate.timeout)
            except CommandFailed as error:
                raise StageFailed("rehearse", str(error), command=error) from None
            finally:
                left = remove_containers(ctx, engine)
            if left:
                raise StageFailed("rehearse", f"expected no rehearsal containers left, got {left}")
    finally:
        engine.close()
    _note_duration(ctx, seconds, settings.slow_after)
    return seconds


def _run_migration(engine: NodeEngine, app: Container, timeout: float) -> float:
    started = time.monotonic()
    try:
        engine.runner.run(rehearsal.run(app), timeout=timeout)
    except CommandFailed as error:
        raise StageFailed(
            "rehearse", f"the migration failed on a copy of the backup ({error})", command=error
        ) from None
    return time.monotonic() - started


def _note_duration(ctx: DeployContext, seconds: float, slow_after: float) -> None:
    ctx.deploy.rehearsal_seconds = round(seconds, 1)
    ctx.deploy.rehearsal_slow = seconds > slow_after
    if ctx.deploy.rehearsal_slow:
        ctx.log.info(
            f"rehearsal SLOW: the migration took {seconds:.1f}s on a copy of the backup "
            f"(rehearse.slow_after {slow_after:.0f}s): expect the real one to take as long"
        )
    else:
        ctx.log.info(f"rehearsal passed: the migration took {seconds:.1f}s on a copy")


def remove_containers(ctx: DeployContext, engine: NodeEngine | None = None) -> list[str]:
    """Remove this deploy's rehearsal containers; the names of any still there afterwards.

    Unfenced: the throwaways are this deploy's own and part of no stack, so a deploy that lost
    its lock mid-rehearsal (another deploy owns the environment now) still takes them away.
    `engine`: where they ran (default: the database's engine, found again).
    """
    if engine is None:
        try:
            engine = database_engine(ctx)
        except StageFailed as error:
            return [f"unknown ({error})"]
        try:
            return remove_containers(ctx, engine)
        finally:
            engine.close()
    deploy_id = ctx.deploy.id
    cleanup = Runner(ctx.log, engine.runner.environ)
    for name in (rehearsal.migration_name(deploy_id), rehearsal.database_name(deploy_id)):
        try:
            cleanup.run(rehearsal.remove(name), timeout=60, check=False, quiet=True)
        except CommandFailed as error:  # ran out of time: the listing below says what is left
            ctx.log.info(f"rehearsal: {error}")
    label = f"{rehearsal.LABEL}={deploy_id}"
    try:
        found = engine.client.containers.list(all=True, filters={"label": label})
    except docker.errors.DockerException as error:
        return [f"unknown ({error})"]
    return sorted(container.name for container in found)


def _wait_ready(engine: NodeEngine, name: str, user: str, database: str, limit: float) -> None:
    """Poll pg_isready until the deadline; a database that exited fails at once, with its log."""
    deadline = time.monotonic() + limit
    while True:
        result = engine.runner.run(
            rehearsal.is_ready(name, user, database), timeout=10, check=False, quiet=True
        )
        if result.exit_code == 0:
            return
        running = _is_running(engine, name)
        if not running or time.monotonic() > deadline:
            log = engine.runner.run(rehearsal.logs(name), timeout=30, check=False, quiet=True)
            got = "it exited" if not running else f"pg_isready exit {result.exit_code}"
            raise StageFailed(
                "rehearse",
                f"expected the throwaway database to accept connections within {limit:.0f}s, "
                f"got {got}; its last lines: {log.output[-600:]}",
            )
        time.sleep(READY_POLL_SECONDS)


def _is_running(engine: NodeEngine, name: str) -> bool:
    try:
        return bool(engine.client.containers.get(name).status in ("created", "running"))
    except docker.errors.NotFound:
        return False


def _service(services: dict[str, ServiceModel], name: str) -> ServiceModel:
    found = services.get(name)
    if found is None:
        raise StageFailed("rehearse", f"expected service {name} in the compose model, got none")
    return found


def _container(
    ctx: DeployContext, engine: NodeEngine, spec: ServiceModel, env_file: Path, **fields: Any
) -> Container:
    """A rehearsal container shaped like the compose service `spec`, minus anything shared."""
    write_env_file(env_file, spec.environment)
    _present(engine, fields["image"])
    entrypoint, command = _entrypoint_and_command(spec)
    return Container(
        deploy_id=ctx.deploy.id,
        env_file=env_file,
        mounts=_mounts(engine, spec, fields["image"]),
        user=spec.user,
        workdir=spec.working_dir,
        **{"entrypoint": entrypoint, "command": command, **fields},
    )


def _present(engine: NodeEngine, image: str) -> None:
    """On a swarm's database node the new image may not be there yet: pull it by digest."""
    try:
        engine.client.images.get(image)
    except docker.errors.ImageNotFound:
        if "@sha256:" not in image:
            raise StageFailed(
                "rehearse", f"expected the image {image} on its engine, got none"
            ) from None
        try:
            engine.runner.run(docker_argv.pull_digest(image), timeout=600)
        except CommandFailed as error:
            raise StageFailed("rehearse", str(error), command=error) from None


def _entrypoint_and_command(spec: ServiceModel) -> tuple[str | None, tuple[str, ...]]:
    if not spec.entrypoint:
        return None, spec.command
    return spec.entrypoint[0], (*spec.entrypoint[1:], *spec.command)


def _mounts(engine: NodeEngine, spec: ServiceModel, image: str) -> tuple[Mount, ...]:
    """Read-only binds stay; volumes, writable binds, tmpfs and the image's VOLUMEs: tmpfs."""
    mounts: dict[str, Mount] = {}
    declared = (engine.client.images.get(image).attrs.get("Config") or {}).get("Volumes") or {}
    for target in declared:
        mounts[target] = Mount(target)
    for mount in spec.mounts:
        if mount.type == "bind" and mount.read_only and mount.source:
            if "," in mount.source or "," in mount.target:
                raise StageFailed("rehearse", f"cannot mount {mount.source} (a comma in the path)")
            mounts[mount.target] = Mount(mount.target, mount.source)
        elif mount.target:
            mounts[mount.target] = Mount(mount.target)
    for target in spec.tmpfs:
        mounts[target] = Mount(target)
    return tuple(mounts[target] for target in sorted(mounts))


def write_env_file(path: Path, environment: dict[str, str]) -> None:
    """The service's variables for `docker run --env-file`; never in argv (they hold secrets).

    A variable Compose would pass through from its own environment (no value in the compose
    file) is set empty: the rehearsal does not hand the worker's environment to the migration.
    """
    lines = []
    for key, value in sorted(environment.items()):
        if "\n" in value or "\n" in key:
            raise StageFailed("rehearse", f"cannot pass {key}: a multi-line value (env-file)")
        lines.append(f"{key}={value}")
    path.touch(mode=0o600)
    path.write_text("".join(f"{line}\n" for line in lines))


def _configured(ctx: DeployContext) -> tuple[Migrate, Rehearse, Database, str]:
    migrate, database = ctx.environment.migrate, ctx.environment.database
    if migrate is None or migrate.rehearse is None or database is None or not database.service:
        # The configuration refuses rehearse without database.service; this is a bug guard.
        raise StageFailed("rehearse", "expected migrate.rehearse and database.service, got none")
    return migrate, migrate.rehearse, database, database.service


def _database_image(ctx: DeployContext, spec: ServiceModel) -> str:
    """The image the database service runs now, else the one its compose entry names."""
    running = ctx.previous_images.get(spec.name)
    if running:
        return running
    if spec.image:
        return spec.image
    raise StageFailed("rehearse", f"expected an image for {spec.name}, got none")


def _migration_image(ctx: DeployContext, spec: ServiceModel) -> str:
    """The image the build stage made (or reused) for the migration service."""
    built = ctx.deploy.images.get(spec.name)
    if built:
        return str(built)
    if spec.image:
        return spec.image
    raise StageFailed("rehearse", f"expected an image for {spec.name}, got none")
