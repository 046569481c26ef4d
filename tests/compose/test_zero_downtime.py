"""Zero-downtime swaps without an engine: command builders, refusals, grace, config checks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import yaml

from config import ConfigError, parse_settings
from config.model import Migrate
from jobs.commands.compose import Compose
from jobs.commands.docker import (
    connect_network,
    disconnect_network,
    remove_container,
    start_container,
    stop_container,
)
from jobs.compose.model import ComposeModel, PublishedPort, ServiceModel
from jobs.compose.zero_downtime import (
    drain_seconds,
    first_check_seconds,
    grace_seconds,
    refusals,
    slow_first_checks,
)
from jobs.doctor.compose_checks import check_zero_downtime
from jobs.execution.context import DeployContext
from jobs.runbook.stages.migrate import migration_argv
from jobs.runbook.stages.service_name import endpoints, in_name, shared_aliases
from webhook.cli import main

COMPOSE = Compose(("docker", "compose"), "crm", Path("/srv/crm"), ("compose.yml",))
BASE = [
    "docker", "compose", "--project-name", "crm", "--project-directory", "/srv/crm",
    "--file", "/srv/crm/compose.yml",
]  # fmt: skip
CONTAINER = "0123456789ab" * 4 + "cdef0123456789ab"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            COMPOSE.create_beside("api", 2),
            [*BASE, "up", "--no-build", "--no-deps", "--no-recreate", "--no-start",
             "--scale", "api=2", "api"],
        ),
        (start_container(CONTAINER), ["docker", "start", CONTAINER]),
        (
            disconnect_network("crm_default", CONTAINER),
            ["docker", "network", "disconnect", "crm_default", CONTAINER],
        ),
        (
            connect_network("crm_default", CONTAINER, ["crm-api-2", "api"]),
            ["docker", "network", "connect", "--alias", "crm-api-2", "--alias", "api",
             "crm_default", CONTAINER],
        ),
        (
            connect_network("crm_default", CONTAINER, []),
            ["docker", "network", "connect", "crm_default", CONTAINER],
        ),
        (
            COMPOSE.run("api", ["alembic", "upgrade", "head"]),
            [*BASE, "run", "--rm", "--no-deps", "-T", "api", "alembic", "upgrade", "head"],
        ),
        (stop_container(CONTAINER, 15), ["docker", "stop", "-t", "15", CONTAINER]),
        (stop_container(CONTAINER[:12], 0), ["docker", "stop", "-t", "0", CONTAINER[:12]]),
        (remove_container(CONTAINER), ["docker", "rm", CONTAINER]),
    ],
)  # fmt: skip
def test_command_builders_exact_argv(argv: list[str], expected: list[str]) -> None:
    """Each new command builder produces exactly this argv (no -v on rm, no shell)."""
    assert argv == expected


@pytest.mark.parametrize("bad", ["api", "--all", "0123456789a", "0123456789ab; rm", ""])
def test_container_commands_take_only_container_ids(bad: str) -> None:
    """Anything but 12-64 hex digits is refused before it can become an argv entry."""
    with pytest.raises(ValueError, match="expected a container id"):
        stop_container(bad, 10)
    with pytest.raises(ValueError, match="expected a container id"):
        remove_container(bad)


@pytest.mark.parametrize(
    ("network", "aliases"),
    [("crm default", []), ("--all", []), ("net", ["api;x"]), ("net", ["-a"])],
)
def test_network_commands_refuse_odd_names(network: str, aliases: list[str]) -> None:
    """A network name or alias that could read as an option or carry junk never becomes argv."""
    with pytest.raises(ValueError, match="expected a"):
        connect_network(network, CONTAINER, aliases)


def _container(name: str, networks: dict[str, list[str]]) -> Any:
    spec = {
        net: {"Aliases": aliases, "IPAddress": "172.18.0.5"} for net, aliases in networks.items()
    }
    return SimpleNamespace(name=name, id=CONTAINER, attrs={"NetworkSettings": {"Networks": spec}})


def test_shared_aliases_are_the_service_names_not_the_containers_own() -> None:
    """The container's own name and short id stay; the service's name and aliases are shared."""
    container = _container("crm-api-1", {"crm_default": ["crm-api-1", "api", CONTAINER[:12]]})
    [endpoint] = endpoints(container)
    assert endpoint.network == "crm_default" and endpoint.address == "172.18.0.5"
    assert shared_aliases(container, endpoint.aliases) == ["api"]


def test_in_name_looks_at_every_network() -> None:
    """A container is in the service's name when any of its networks gives it that alias."""
    both = _container("crm-api-1", {"back": ["crm-api-1"], "front": ["crm-api-1", "api"]})
    assert in_name(both, "api")
    assert not in_name(_container("crm-api-2", {"front": ["crm-api-2"]}), "api")
    assert not in_name(_container("crm-api-3", {}), "api")


@pytest.mark.parametrize(
    ("period", "configured", "seconds"),
    [(None, None, 10.0), ("5s", None, 5.0), ("2m", None, 30.0), ("2m", 45.0, 45.0),
     ("5s", 0.0, 0.0)],
)  # fmt: skip
def test_drain_is_the_grace_period_capped_unless_configured(
    period: str | None, configured: float | None, seconds: float
) -> None:
    """An old container drains for its stop_grace_period, at most 30 s, or as configured."""
    service = ServiceModel(name="api", image=None, builds=True, stop_grace_period=period)
    assert drain_seconds(service, configured) == seconds


def _context(when: str) -> DeployContext:
    migrate = Migrate(service="api", command=["alembic", "upgrade", "head"], when=when)  # type: ignore[arg-type]
    return cast(
        DeployContext,
        SimpleNamespace(environment=SimpleNamespace(migrate=migrate), compose=COMPOSE),
    )


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (
            "before_swap",
            [*BASE, "run", "--rm", "--no-deps", "-T", "api", "alembic", "upgrade", "head"],
        ),
        ("after_swap", [*BASE, "exec", "-T", "api", "alembic", "upgrade", "head"]),
    ],
)
def test_migration_argv_follows_when(when: str, expected: list[str]) -> None:
    """before_swap runs in a one-off container of the new image; after_swap execs in the service."""
    assert migration_argv(_context(when)) == expected


GOOD = ServiceModel(name="api", image=None, builds=True, healthcheck="compose")
HEALTHY: dict[str, Any] = {"name": "api", "image": None, "builds": True, "healthcheck": "compose"}
CHECK = {"test": ["CMD", "true"]}


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (GOOD, []),
        (
            ServiceModel(**HEALTHY, container_name="crm-api"),
            ["zero_downtime: service api sets container_name crm-api: a second container "
             "cannot get that name while the first runs; remove container_name"],
        ),
        (
            ServiceModel(**HEALTHY, network_mode="host"),
            ["zero_downtime: service api uses network_mode: host: old and new container would need "
             "the same port and a proxy could not tell them apart; put the service on a Compose "
             "network behind the proxy"],
        ),
        (
            ServiceModel(
                name="api", image=None, builds=True, healthcheck="compose",
                ports=(PublishedPort(8000, "8000", "127.0.0.1"), PublishedPort(9000, None, None)),
            ),
            ["zero_downtime: service api publishes fixed host port 8000: the new container cannot "
             "bind it while the old one holds it; publish only the proxy and let it reach the "
             "service by name (or use `expose:`)"],
        ),
        (
            ServiceModel(name="api", image=None, builds=True, healthcheck="disabled"),
            ["zero_downtime: service api disables its healthcheck (the image's too): nothing "
             "would say when the new container is ready for traffic; give the service a "
             "`healthcheck:` test"],
        ),
        # None in the Compose files: Docker runs the image's, checked after the build.
        (ServiceModel(name="api", image=None, builds=True, healthcheck="image"), []),
    ],
)  # fmt: skip
def test_refusals_name_service_reason_and_fix(service: ServiceModel, expected: list[str]) -> None:
    """Each thing that stops two containers running side by side is refused with its fix."""
    assert refusals(ComposeModel({"api": service, "db": GOOD}), ["api"]) == expected


def test_refusals_of_an_unknown_service() -> None:
    """A name that is not a Compose service is refused, listing the services there are."""
    assert refusals(ComposeModel({"db": GOOD}), ["apj"]) == [
        "zero_downtime: service apj is not in the Compose files (services: db); fix the name"
    ]


@pytest.mark.parametrize(
    ("period", "seconds"),
    [(None, 10), ("5s", 5), ("1m30s", 90), ("1.5s", 2), ("500ms", 1), ("0s", 1), ("soon", 10)],
)
def test_grace_seconds_reads_stop_grace_period(period: str | None, seconds: int) -> None:
    """stop_grace_period (a Go duration) becomes whole seconds for `docker stop -t`."""
    service = ServiceModel(name="api", image=None, builds=True, stop_grace_period=period)
    assert grace_seconds(service) == seconds


ENVIRONMENT = """
projects:
  crm:
    repo: github.com/acme/crm
    provider: github
    secret: s3cret-s3cret-s3cret
    environments:
      dev:
        trigger: {branch: main}
        path: PATH
        compose: {files: [compose.yml], project: crm_dev, command: docker-compose}
        health: {url: "http://127.0.0.1:8000/healthz"}
        zero_downtime: [api]
"""


def test_zero_downtime_needs_migration_before_swap() -> None:
    """A migration after a zero-downtime swap is refused: the new api would start unmigrated."""
    text = ENVIRONMENT.replace("PATH", "/srv/crm") + "        migrate: {service: api}\n"
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "test.yml", {})
    assert any("zero_downtime needs migrate.when: before_swap" in p for p in caught.value.problems)
    fixed = text.replace("{service: api}", "{service: api, when: before_swap}")
    env = parse_settings(fixed, "test.yml", {}).environment("crm", "dev")
    assert env.zero_downtime == ["api"] and env.migrate is not None
    assert env.migrate.when == "before_swap"


def test_migration_runs_after_swap_by_default() -> None:
    """Without `when`, a migration keeps running after the swap, as before."""
    text = ENVIRONMENT.replace("PATH", "/srv/crm").replace("zero_downtime: [api]", "migrate: {}")
    env = parse_settings(text, "test.yml", {}).environment("crm", "dev")
    assert env.migrate is not None and env.migrate.when == "after_swap"


def test_check_config_refuses_what_cannot_swap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config reads the checkout's Compose model and names each service, reason and fix."""
    checkout = tmp_path / "crm"
    checkout.mkdir()
    services: dict[str, Any] = {
        "api": {"image": "a", "container_name": "crm-api", "ports": ["127.0.0.1:8000:8000"],
                "healthcheck": {"disable": True}},
        "web": {"image": "acme/web", "network_mode": "host", "healthcheck": CHECK},
    }  # fmt: skip
    (checkout / "compose.yml").write_text(yaml.safe_dump({"services": services}))
    config = tmp_path / "deployhook.yml"
    config.write_text(ENVIRONMENT.replace("PATH", str(checkout)).replace("[api]", "[api, web]"))
    assert main(["check-config", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "deployhook: cannot swap without downtime:\n  projects/crm/environments/dev: " in err
    where = "projects/crm/environments/dev: zero_downtime: service"
    assert f"{where} api sets container_name crm-api" in err
    assert f"{where} api publishes fixed host port 8000" in err
    assert f"{where} api disables its healthcheck (the image's too)" in err
    assert f"{where} web uses network_mode: host" in err
    services["api"] = {"image": "acme/api", "healthcheck": {"test": ["CMD", "true"]}}
    services["web"] = {
        "image": "acme/web",
        "expose": ["80"],
        "healthcheck": {"test": ["CMD", "true"]},
    }
    (checkout / "compose.yml").write_text(yaml.safe_dump({"services": services}))
    assert main(["check-config", "--config", str(config)]) == 0
    # Not a refusal: without health.port every deploy waits for the drain, and is told so.
    err = capsys.readouterr().err
    assert "warning: projects/crm/environments/dev: health.port is not set: each" in err
    # No interval: Docker's 30 s, which each swap would wait for the first healthcheck.
    first = "zero_downtime: service api: Docker runs a new container's first healthcheck 30s"
    assert f"warning: projects/crm/environments/dev: {first}" in err
    config.write_text(
        config.read_text().replace('/healthz"}', '/healthz", port: 8000, service: api}')
    )
    assert main(["check-config", "--config", str(config)]) == 0
    assert "health.port" not in capsys.readouterr().err
    # None in the Compose files: the image's HEALTHCHECK runs; a warning, not a refusal.
    del services["web"]["healthcheck"]
    (checkout / "compose.yml").write_text(yaml.safe_dump({"services": services}))
    assert main(["check-config", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert (
        "warning: projects/crm/environments/dev: zero_downtime: service web sets no "
        "`healthcheck:` in the Compose files: its image must have a HEALTHCHECK, checked after "
        "each build (without one every deploy stops there), or the service a `healthcheck:`\n"
    ) in err
    assert "service api sets no" not in err


def _with_health(health: str, zero: str) -> str:
    """The environment with these health settings and zero_downtime services."""
    text = ENVIRONMENT.replace("PATH", "/srv/crm").replace(
        "zero_downtime: [api]", f"zero_downtime: {zero}"
    )
    return text.replace(
        'health: {url: "http://127.0.0.1:8000/healthz"}',
        f'health: {{url: "http://127.0.0.1:8080/healthz", {health}}}',
    )


@pytest.mark.parametrize(
    ("health", "zero", "service"),
    [
        ("port: 8000", "[api]", "api"),
        ("port: 8000, service: web", "[api, web]", "web"),
        ("timeout: 30", "[api, web]", None),  # not set: the old ones drain first, as before
    ],
)
def test_health_service_behind_the_url(health: str, zero: str, service: str | None) -> None:
    """health.port names the port; the service is the only zero-downtime one, or named."""
    text = _with_health(health, zero)
    environment = parse_settings(text, "test.yml", {}).environment("crm", "dev")
    assert environment.health_service == service


@pytest.mark.parametrize(
    ("health", "zero", "problem"),
    [
        ("port: 8000", "[api, web]", "health.port needs health.service when zero_downtime"),
        ("port: 8000", "[]", "health.port needs health.service when zero_downtime"),
        ("port: 8000, service: db", "[api]", "health.service db is not in zero_downtime (api)"),
        ("service: api", "[api]", "health.service needs health.port"),
        ("port: 0", "[api]", "health.port"),
    ],
)
def test_health_port_mistakes_are_refused(health: str, zero: str, problem: str) -> None:
    """A port without a service to read it on, or a service that is not swapped, is an error."""
    text = _with_health(health, zero)
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "test.yml", {})
    assert any(problem in line for line in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("interval", "start_period", "start_interval", "seconds"),
    [
        (None, None, None, 30.0),  # Docker's default interval
        ("1s", None, None, 1.0),
        ("1m30s", None, None, 90.0),
        ("30s", "20s", "1s", 1.0),  # start_interval during the start period (Docker 25+)
        ("30s", None, "1s", 30.0),  # no start period: start_interval is never used
        ("30s", "0s", "1s", 30.0),
        ("30s", "20s", None, 30.0),  # start_interval defaults to the interval
        ("soon", None, None, 30.0),  # not a duration: Docker's default
    ],
)
def test_first_check_seconds(
    interval: str | None, start_period: str | None, start_interval: str | None, seconds: float
) -> None:
    service = ServiceModel(
        **HEALTHY,
        health_interval=interval,
        health_start_period=start_period,
        health_start_interval=start_interval,
    )
    assert first_check_seconds(service) == seconds


def test_slow_first_checks_warn_with_the_fix() -> None:
    """Each swap waits for a new container's first healthcheck: a late one is worth a warning."""
    slow = ServiceModel(**{**HEALTHY, "name": "web"})  # no interval: 30 s
    quick = ServiceModel(**HEALTHY, health_interval="2s")
    started = ServiceModel(
        **{**HEALTHY, "name": "jobs"},
        health_interval="1m",
        health_start_period="1m",
        health_start_interval="1s",
    )
    late = ServiceModel(**{**HEALTHY, "name": "late"}, health_interval="10s")
    model = ComposeModel({"api": quick, "web": slow, "jobs": started, "late": late, "db": slow})
    assert slow_first_checks(model, ["api", "web", "jobs", "late", "gone"]) == [
        "service web: Docker runs a new container's first healthcheck 30s after its start "
        "(interval not set: 30s), and each swap waits for it; set `start_period` with "
        "`start_interval: 1s` (Docker 25 and later), or a shorter `interval`",
        "service late: Docker runs a new container's first healthcheck 10s after its start "
        "(interval 10s), and each swap waits for it; set `start_period` with "
        "`start_interval: 1s` (Docker 25 and later), or a shorter `interval`",
    ]


@pytest.mark.parametrize(
    ("services", "names", "status", "says"),
    [
        ({"api": GOOD}, [], None, None),
        ({"api": ServiceModel(**HEALTHY, health_interval="1s")}, ["api"], "ok",
         "api can swap without downtime"),
        ({"api": GOOD}, ["api"], "warn", "first healthcheck 30s after its start"),
        ({"api": ServiceModel(name="api", image=None, builds=True, healthcheck="disabled")},
         ["api"], "fail", "zero_downtime: service api disables its healthcheck"),
    ],
)  # fmt: skip
def test_doctor_finding_for_zero_downtime(
    services: dict[str, ServiceModel], names: list[str], status: str | None, says: str | None
) -> None:
    """doctor says what check-config says: refusals fail, warnings warn, else ok."""
    text = ENVIRONMENT.replace("PATH", "/srv/crm").replace("[api]", f"[{', '.join(names)}]")
    environment = parse_settings(text, "test.yml", {}).environment("crm", "dev")
    finding = check_zero_downtime("crm/dev", environment, ComposeModel(services))
    if status is None:
        assert finding is None
        return
    assert finding is not None and (finding.check, finding.status) == ("zero_downtime", status)
    assert says is not None and says in finding.detail, finding.detail


def test_doctor_warns_without_a_static_busybox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No busybox on PATH: no stand-ins hold the addresses below a reconnecting container,
    and doctor (as check-config) warns with the package to install."""
    text = ENVIRONMENT.replace("PATH", "/srv/crm")
    environment = parse_settings(text, "test.yml", {}).environment("crm", "dev")
    healthy = ComposeModel({"api": ServiceModel(**HEALTHY, health_interval="1s")})
    found = check_zero_downtime("crm/dev", environment, healthy)
    assert found is not None and found.status == "ok", found
    monkeypatch.setenv("PATH", str(tmp_path))
    finding = check_zero_downtime("crm/dev", environment, healthy)
    assert finding is not None and finding.status == "warn", finding
    assert "install the Debian package busybox-static" in finding.detail, finding.detail
