"""Docker, the Compose files and the services they must name, the database, the health URL."""

from __future__ import annotations

import os
from pathlib import Path

from config import Environment
from config.model import Database
from jobs.commands import postgres
from jobs.commands.compose import Compose
from jobs.compose.model import ComposeModel, read_model
from jobs.doctor import commands
from jobs.doctor.check import Finding, fail, ok, skip
from jobs.doctor.probe import Prober, last_line
from jobs.failures.errors import CommandFailed
from jobs.runbook.stages.health import probe_url

DOCKER_TIMEOUT = 30.0
COMPOSE_TIMEOUT = 60.0
DUMP_TIMEOUT = 300.0


def check_docker(target: str, environment: Environment, prober: Prober) -> Finding:
    answer = prober.run(commands.docker_version(), timeout=DOCKER_TIMEOUT)
    where = environment.docker_host or prober.runner.environ.get("DOCKER_HOST", "local socket")
    if answer.ok:
        return ok(target, "docker", f"Docker {answer.output.splitlines()[-1]} answers on {where}")
    if environment.docker_host and environment.docker_host.startswith("ssh://"):
        fix = (
            f"`DOCKER_HOST={environment.docker_host} docker version` must work for this user "
            "without a password: key in ~/.ssh, host in known_hosts, user in the docker group"
        )
    elif environment.docker_tls is not None:
        fix = (
            f"docker_tls.cert_path ({environment.docker_tls.cert_path}) must hold the ca.pem "
            "that signed the engine's certificate, and a cert.pem and key.pem that CA signed"
        )
    else:
        fix = "start the Docker engine, or add this user to the group owning the docker socket"
    return fail(target, "docker", f"Docker does not answer on {where}: {answer.output}", fix)


def check_compose(
    target: str, environment: Environment, compose: Compose, prober: Prober
) -> tuple[list[Finding], ComposeModel | None]:
    files = ", ".join(environment.compose.files)
    try:
        model = read_model(prober.runner, compose, timeout=COMPOSE_TIMEOUT)
    except CommandFailed as error:
        detail = f"{files} do not parse: {last_line(error.output_tail)}"
        fix = f"run `{' '.join(compose.config_json()[:-2])}` and fix what it names"
        return [fail(target, "compose", detail, fix), _unparsed(target)], None
    except OSError as error:
        problem = f"cannot run Compose: {error.strerror}"
        return [fail(target, "compose", problem, INSTALL), _unparsed(target)], None
    found = [ok(target, "compose", f"{files} parse: {len(model.services)} service(s)")]
    return [*found, _services(target, environment, model)], model


def _unparsed(target: str) -> Finding:
    return skip(target, "services", "the Compose files do not parse")


INSTALL = "install the docker compose plugin (or docker-compose) on this host"


def named_services(environment: Environment) -> dict[str, str]:
    """Every service the configuration names -> the key that names it."""
    named: dict[str, str] = {}
    if environment.database is not None and environment.database.service is not None:
        named[environment.database.service] = "database.service"
    if environment.migrate is not None:
        named.setdefault(environment.migrate.service, "migrate.service")
    if environment.database is not None:
        for writer in environment.database.writers or []:
            named.setdefault(writer, "database.writers")
    for service in environment.zero_downtime:
        named.setdefault(service, "zero_downtime")
    for point in type(environment.hooks).model_fields:
        for hook in environment.hooks.at(point):
            if hook.service is not None:
                named.setdefault(hook.service, f"hooks.{point}")
    return named


def _services(target: str, environment: Environment, model: ComposeModel) -> Finding:
    named = named_services(environment)
    missing = [f"{service} ({key})" for service, key in named.items() if not model.service(service)]
    if missing:
        return fail(
            target, "services",
            "the Compose files have no service " + ", ".join(missing)
            + f"; they have {', '.join(sorted(model.services)) or 'none'}",
            "add the service to the Compose files, or name an existing one at that key",
        )  # fmt: skip
    shown = ", ".join(f"{service} ({key})" for service, key in named.items()) or "none named"
    return ok(target, "services", f"the configured services exist: {shown}")


def check_database(
    target: str, environment: Environment, compose: postgres.ServiceExec, prober: Prober
) -> tuple[Finding, int | None]:
    """pg_dump of the schema as the configured user; the database's size for the backup check."""
    database = environment.database
    if database is None:
        return skip(target, "database", "no database configured, so deploys take no backup"), None
    env = postgres.connection_env(database)
    dump = prober.run(
        postgres.schema_only(database, compose),
        timeout=DUMP_TIMEOUT, stdout_path=Path(os.devnull), extra_env=env,
    )  # fmt: skip
    who = f"as {database.user} on {database.name}"
    if not dump.ok:
        where = f"service {database.service}" if database.service else "database.url"
        return fail(
            target, "database", f"pg_dump {who} fails: {dump.output}",
            f"start {where}, and make sure role {database.user} exists and may read "
            f"{database.name} without a password prompt (or fix database.user / database.name)",
        ), None  # fmt: skip
    size_answer = prober.run(
        postgres.database_size(database, compose), timeout=DOCKER_TIMEOUT, extra_env=env
    )
    size = _last_int(size_answer.output) if size_answer.ok else None
    shown = f", {size // (1024 * 1024)} MB on disk" if size is not None else ""
    restores = _restore_path(database, compose, prober, env)
    return ok(target, "database", f"pg_dump works {who}{shown}; {restores}"), size


def _restore_path(
    database: Database, compose: postgres.ServiceExec, prober: Prober, env: dict[str, str]
) -> str:
    """Which way a revert would restore (docs/data-safety.md), so no one learns it at 2 a.m."""
    answer = prober.run(
        postgres.can_create_databases(database, compose), timeout=DOCKER_TIMEOUT, extra_env=env
    )
    if not answer.ok:
        return "could not ask whether the role may create databases"
    if answer.output.strip().endswith("t"):
        ahead = " prepared during each deploy" if database.prepare_restore else ""
        return f"a restore goes through a standby database{ahead}, swapped in by rename"
    return (
        f"a restore is in place (role {database.user} may not create databases; "
        "CREATEDB makes a revert's restore a rename)"
    )


def check_health(target: str, environment: Environment) -> Finding:
    healthy, seen = probe_url(environment.health)
    if healthy:
        return ok(target, "health", seen)
    return fail(
        target, "health", seen,
        "start the stack (or deploy it once by hand) and check health.url, expect_status and "
        "expect_body; a deploy reverts when this does not answer",
    )  # fmt: skip


def _last_int(text: str) -> int | None:
    words = text.split()
    return int(words[-1]) if words and words[-1].isdigit() else None
