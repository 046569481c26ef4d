"""Every check of every chosen environment, in the order a deploy meets them."""

from __future__ import annotations

from config import Environment, Settings
from jobs.commands.compose import Compose, detect_compose
from jobs.doctor.check import Finding, skip
from jobs.doctor.compose_checks import check_zero_downtime, look_at_images
from jobs.doctor.offsite import check_offsite, check_sops
from jobs.doctor.probe import Prober
from jobs.doctor.repository import check_repository
from jobs.doctor.stack import check_compose, check_database, check_docker, check_health
from jobs.doctor.storage import check_backups
from jobs.doctor.swarm import check_swarm, database_exec_for
from jobs.execution.context import command_environ, secret_values

STACK_CHECKS = ("compose", "services", "database")


def examine(settings: Settings, environments: list[Environment]) -> list[Finding]:
    """Each environment's checks, in the order a deploy meets them (Redis is the caller's:
    finding deployhook's own Redis is the web layer's business)."""
    found: list[Finding] = []
    for environment in environments:
        found += check_environment(settings, environment)
    return found


def check_environment(settings: Settings, environment: Environment) -> list[Finding]:
    target, project, name = environment.target, environment.project_name, environment.name
    prober = Prober(command_environ(environment, secret_values(settings)), secret_values(settings))
    found = check_repository(target, settings.projects[project], environment, prober)
    docker = check_docker(target, environment, prober)
    found.append(docker)
    database_size = None
    if not environment.path.is_dir():
        found += [skip(target, check, "no checkout") for check in STACK_CHECKS]
    elif docker.status == "fail":
        found += [skip(target, check, "Docker does not answer") for check in STACK_CHECKS]
    else:
        compose = Compose.for_environment(environment, detect_compose(environment.compose.command))
        compose_found, model = check_compose(target, environment, compose, prober)
        found += compose_found
        if model is None:
            found.append(skip(target, "database", "the Compose files do not parse"))
        else:
            looks = look_at_images(environment, model)
            zero_downtime = check_zero_downtime(target, environment, model, looks)
            if zero_downtime is not None:
                found.append(zero_downtime)
            where, missing = database_exec_for(target, environment, compose)
            if missing is not None:
                found.append(missing)
            else:
                database, database_size = check_database(target, environment, where, prober)
                found.append(database)
        if environment.engine == "swarm":
            found += check_swarm(target, environment, compose, prober)
    found.append(check_backups(target, settings, project, name, database_size))
    for extra in (
        check_offsite(target, environment, prober),
        check_sops(target, environment, prober),
    ):
        if extra is not None:
            found.append(extra)
    found.append(check_health(target, environment))
    return found
