"""The checks that read each environment's Compose model for its zero-downtime services:
`deployhook check-config` offline, and `deployhook doctor`'s `zero_downtime` finding.

Refusals: zero_downtime services Compose cannot swap (jobs/compose/zero_downtime.py), and on
a swarm the stack's update settings (jobs/swarm/policy.py); warnings: a Compose stack's proxy
that would not follow a swap (jobs/compose/proxy_check.py), a healthcheck whose first check
comes late (the swap waits for it), no health.port (the old containers' drain then holds
every deploy), and no static busybox for the swap's address stand-ins. A service relying on
its image's HEALTHCHECK (none in the Compose files): offline a warning that the build checks
it; doctor looks at the image (jobs/compose/image_healthcheck.py): none in it fails, no image
yet warns.
"""

from __future__ import annotations

from config import Environment, Settings
from jobs.commands.compose import Compose, detect_compose
from jobs.compose import image_healthcheck
from jobs.compose.image_healthcheck import ImageLook
from jobs.compose.model import ComposeModel, read_model_offline
from jobs.compose.proxy_check import read_text, warnings
from jobs.compose.zero_downtime import refusals, slow_first_checks
from jobs.doctor.check import Finding, fail, ok, warn
from jobs.execution.context import command_environ, secret_values
from jobs.execution.docker_sdk import docker_client
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.failures.finder import telling_line
from jobs.runbook.stages.address_holds import NO_STAND_IN, stand_in_binary
from jobs.swarm.model import read_stack_offline
from jobs.swarm.policy import refusals as swarm_refusals

FIX = "each names its fix; docs/zero-downtime.md says why"
SLOW_HEALTH = (
    "health.port is not set: each zero-downtime deploy waits for the old containers to drain "
    "and go before its health check; set it to the port the service behind health.url listens "
    "on in its containers (docs/zero-downtime.md)"
)


def model_warnings(
    model: ComposeModel, names: list[str], looks: dict[str, ImageLook] | None = None
) -> list[str]:
    """What makes a zero-downtime swap of `names` slow or unsafe, short of a refusal: a proxy
    that keeps an old address, an image whose HEALTHCHECK is not known yet, a first
    healthcheck that comes late, no stand-ins for the addresses below a reconnecting container
    (jobs/runbook/stages/address_holds.py). `looks`: service -> its image, when doctor asked the
    engine; None offline (check-config)."""
    if looks is None:
        images = image_healthcheck.offline_warnings(model, names)
    else:
        images = image_healthcheck.judge(model, names, looks)[1]
    healthchecks = {name: look.healthcheck for name, look in (looks or {}).items()}
    found = warnings(model, names, read_text) + images
    found += slow_first_checks(model, names, healthchecks)
    return found + ([NO_STAND_IN] if stand_in_binary() is None else [])


def check_zero_downtime(
    target: str,
    environment: Environment,
    model: ComposeModel,
    looks: dict[str, ImageLook] | None = None,
) -> Finding | None:
    """doctor's finding: the refusals fail it, the warnings warn (check-config says the same);
    None without zero_downtime services on Compose (a swarm's are jobs/doctor/swarm.py's).
    `looks` (`look_at_images`): an image without the healthcheck its service relies on fails."""
    names = environment.zero_downtime
    if not names or environment.engine == "swarm":
        return None
    refused = refusals(model, names)
    if looks is not None:
        refused += image_healthcheck.judge(model, names, looks)[0]
    if refused:
        return fail(target, "zero_downtime", "; ".join(refused), FIX)
    found = model_warnings(model, names, looks)
    if found:
        return warn(target, "zero_downtime", "; ".join(found), FIX)
    return ok(target, "zero_downtime", f"{', '.join(names)} can swap without downtime")


def look_at_images(environment: Environment, model: ComposeModel) -> dict[str, ImageLook] | None:
    """service -> the image it runs or would run, as the engine has it, for each zero-downtime
    service (its image's healthcheck timing counts where Compose sets none); None when the
    engine cannot be asked (the findings then say what check-config says)."""
    if not environment.zero_downtime or environment.engine == "swarm":
        return None
    project = environment.compose.project
    try:
        client = docker_client(environment)
    except StageFailed:
        return None  # the docker finding says why
    try:
        return {
            name: image_healthcheck.read(client, service.image_name(project))
            for name in environment.zero_downtime
            if (service := model.service(name)) is not None
        }
    except Exception:  # noqa: BLE001 - the doctor reports, it never raises
        return None
    finally:
        client.close()


def zero_downtime_problems(settings: Settings) -> tuple[list[str], list[str]]:
    """The refusals and the proxy warnings of every environment with a checkout."""
    problems: list[str] = []
    proxy_warnings: list[str] = []
    for project_name, project in sorted(settings.projects.items()):
        for env_name, env in sorted(project.environments.items()):
            where = f"projects/{project_name}/environments/{env_name}"
            swarm = env.engine == "swarm"
            if env.zero_downtime and not swarm and env.health.port is None:
                proxy_warnings.append(f"{where}: {SLOW_HEALTH}")
            if not (env.zero_downtime or swarm) or not env.path.is_dir():
                continue  # without a checkout, the deploy's first stage checks it
            compose = Compose.for_environment(env, detect_compose(env.compose.command))
            environ = command_environ(env, secret_values(settings))
            try:
                if swarm:
                    database = env.database.service if env.database else None
                    stack = read_stack_offline(compose, environ)
                    found = swarm_refusals(stack, env.zero_downtime, database)
                else:
                    model = read_model_offline(compose, environ)
                    found = refusals(model, env.zero_downtime)
                    proxy_found = model_warnings(model, env.zero_downtime)
                    proxy_warnings += [f"{where}: zero_downtime: {line}" for line in proxy_found]
            except CommandFailed as error:
                said = telling_line(error.output_tail)
                problems.append(f"{where}: cannot read the Compose model: {error} {said}")
                continue
            problems += [f"{where}: {line}" for line in found]
    return problems, proxy_warnings
