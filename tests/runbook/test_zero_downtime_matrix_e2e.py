"""The zero-downtime matrix: releases (the rows) under three proxies (the columns) at once.

One bed for the module: tests/zdt_app at v1 behind Caddy resolving per request, Caddy with
`dynamic a` and nginx with a resolver (tests/zdt_app/proxy/), all in front of the same api.
The rows deploy on top of each other, in order; during each, the users of every proxy run,
and each proxy's users are one cell (tests/support/zdt_matrix.py). One deploy measures a row
in all three columns: the proxies are only readers of the api's name, so the swap each sees
is the same one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config import Settings
from jobs.state.records import DeployStore
from tests.support.deploying import config_for
from tests.support.failures import assert_cause
from tests.support.zdt_bed import PROXIES, TEMPLATE, BedStarter, ProxyBed
from tests.support.zdt_matrix import (
    answered_last,
    deploy_row,
    each_cell,
    never_seen,
    no_failed,
    served,
    serves,
    spanned,
    swapped,
)

pytestmark = pytest.mark.docker

# The revert row's health stage waits out its timeout (the release answers its health URL with
# 500 for good). 30 s still leaves a loaded machine time to start a container in the swap and
# in the revert; the other rows keep the bed's 90 s.
REVERT_ROW_TIMEOUT = 30


@pytest.fixture(scope="module")
def bed(
    start_proxy_bed: BedStarter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyBed]:
    """The matrix app at v1 behind the three proxies, for every row."""
    root = tmp_path_factory.mktemp("matrix")
    with start_proxy_bed(root) as bed:
        yield bed


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


def settings_for(
    bed: ProxyBed, state_dir: Path, redis_url: str, health_via: str = "caddy", timeout: int = 90
) -> Settings:
    """The environment, its health URL read through `health_via`."""
    environment = bed.environment_config(health_via, timeout)
    return Settings.model_validate(config_for(environment, state_dir, redis_url))


@pytest.fixture(scope="module")
def settings(bed: ProxyBed, state_dir: Path, redis_url: str) -> Settings:
    return settings_for(bed, state_dir, redis_url)


def test_good_release(bed: ProxyBed, settings: Settings, redis_conn: redis.Redis) -> None:
    """A good release: no failed request, the new version serves after the swap; it was
    judged on its own container while the old one drained, which ended after the success."""
    record = swapped(bed, settings, redis_conn, "good", "good")
    log = DeployStore(redis_conn).log(record.id)
    direct = [line for line in log if "read on each new one directly too" in line]
    assert direct and ":8000" in direct[0], log
    healthy = next(i for i, line in enumerate(log) if line[9:].startswith("healthy: "))
    removed = [i for i, line in enumerate(log) if "$ docker rm " in line]
    assert removed and removed[-1] > healthy, "the old container was gone before the health"


def test_good_release_with_migration_before_swap(
    bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A release that is healthy only on the migrated schema: migrated first, then swapped."""
    before = str(bed.version())
    sha = bed.commit({"VERSION": "mig\n", "SCHEMA": "2\n"}, "Migrate")
    record, users = deploy_row(bed, settings, redis_conn, sha)
    assert record.state == "succeeded", record.error
    stages = [stage.name for stage in record.stages]
    assert stages.index("migrate") < stages.index("swap"), stages
    each_cell(users, no_failed, served(before, "mig"), answered_last("mig"))
    serves(bed, "mig")


def test_release_that_answers_but_fails_its_healthcheck_serves_nothing(
    bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
) -> None:
    """Listens and answers 200, healthcheck fails: it serves 0 requests; the old never stops."""
    never_seen(bed, settings, redis_conn, "unhealthy")


def test_crash_looping_release_serves_nothing(
    bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
) -> None:
    """Listens, answers, never ready, exits, restarts: fails at its first restart, served 0
    requests (its healthcheck never passes, so no probe can call it healthy by luck)."""
    never_seen(bed, settings, redis_conn, "crash")


def test_release_healthy_then_crashing_never_takes_the_name_alone(
    bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
) -> None:
    """Healthy to Docker, then crashes 2 s later, and again after each restart: the swap
    sees the crash before any old container leaves the name, and the deploy ends reverted,
    never succeeded. (It may serve a few requests while it was healthy, and one in flight
    at its crash may fail: what is asserted is the outcome and the old container.)"""
    before, serving = str(bed.version()), bed.api_containers()
    sha = bed.release("crash-after-ready", "crash_after_ready")
    record, users = deploy_row(bed, settings, redis_conn, sha)
    assert record.state == "reverted" and record.failed_stage == "swap", record.error
    line = assert_cause(record, "api: new container failed after it joined the name (")
    assert "…" not in line, line
    assert bed.api_containers() == serving, "the old container stopped"
    serves(bed, before)
    each_cell(users, answered_last(before))


def test_slow_starting_release(bed: ProxyBed, settings: Settings, redis_conn: redis.Redis) -> None:
    """Listens at once but answers 503 for 10 s: no user sees a 503, it serves once healthy."""
    swapped(bed, settings, redis_conn, "slow", "slow")


def test_release_that_ignores_sigterm_and_its_retirement(
    bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A release that ignores SIGTERM swaps in, then out again (SIGKILL after its grace)."""
    swapped(bed, settings, redis_conn, "deaf", "ignore_term")
    swapped(bed, settings, redis_conn, "after-deaf", "good")


def test_five_second_request_in_flight_during_swap_completes(
    bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
) -> None:
    """5 s requests back to back on an old version that dies at once on SIGTERM complete."""
    before = "abrupt"
    swapped(bed, settings, redis_conn, before, "abrupt")
    version = "inflight"
    record, users = deploy_row(bed, settings, redis_conn, bed.release(version, "good"), slow=True)
    assert record.state == "succeeded", record.error
    each_cell(users, no_failed, served(before, version), spanned(before, version))


# A plain service, beside the swapped api: killed at once when it goes.
SIDECAR = """
  sidecar:
    image: ${BASE_IMAGE}
    command: ["sleep", "infinity"]
    stop_signal: SIGKILL
"""


def test_release_dropping_a_service_removes_its_orphan_and_leaves_the_swap_alone(
    bed: ProxyBed, state_dir: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """compose.remove_orphans: one release adds a plain service, the next drops it. The swap's
    `compose up --remove-orphans --no-deps` of the other services removes the dropped one's
    container and leaves the api to the swap: a 5 s request on its draining old container
    completes, 0 failed."""
    environment = bed.environment_config()
    environment["compose"]["remove_orphans"] = True
    settings = Settings.model_validate(config_for(environment, state_dir, redis_url))
    compose = (TEMPLATE / "docker-compose.yml").read_text()
    with_sidecar = compose.replace("\nvolumes:\n", f"{SIDECAR}\nvolumes:\n")
    files = {"VERSION": "sidecar\n", "BEHAVIOUR": "good\n", "docker-compose.yml": with_sidecar}
    record, _ = deploy_row(bed, settings, redis_conn, bed.commit(files, "Add a sidecar"))
    assert record.state == "succeeded", record.error
    assert len(bed.service_containers("sidecar")) == 1
    files = {"VERSION": "no-sidecar\n", "docker-compose.yml": compose}
    sha = bed.commit(files, "Drop the sidecar")
    record, users = deploy_row(bed, settings, redis_conn, sha, slow=True)
    assert record.state == "succeeded", record.error
    assert bed.service_containers("sidecar", every=True) == [], "the orphan is still there"
    checks = (no_failed, served("sidecar", "no-sidecar"), spanned("sidecar", "no-sidecar"))
    each_cell(users, *checks)
    serves(bed, "no-sidecar")


@pytest.mark.parametrize("health_via", PROXIES)
def test_failure_after_swap_reverts_with_the_same_discipline(
    bed: ProxyBed, state_dir: Path, redis_url: str, redis_conn: redis.Redis, health_via: str
) -> None:
    """Healthy to Docker, failing the health URL read through `health_via`: reverted to the
    previous version, 0 failed (never a success read from an old container through a proxy)."""
    settings = settings_for(bed, state_dir, redis_url, health_via, REVERT_ROW_TIMEOUT)
    before = str(bed.version())
    version = f"fails-via-{health_via}"
    record, users = deploy_row(bed, settings, redis_conn, bed.release(version, "fails_after"))
    assert record.state == "reverted" and record.failed_stage == "health", record.error
    assert_cause(record, "not healthy within")
    each_cell(users, no_failed, served(before, version), answered_last(before))
    serves(bed, before)


def test_release_crashing_after_the_swap_fails_the_health_stage_at_once(
    bed: ProxyBed, state_dir: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """Passes the swap, then crashes on the health stage's first request: reverted at the
    crash, not after the health timeout, by taking back the old container, still draining (a
    15 s drain here, so that a loaded machine's revert still finds it). Requests in flight on
    the crashing one may fail: what is asserted is the outcome, the cause, the container."""
    environment = {**bed.environment_config(), "zero_downtime_drain": 15}
    settings = Settings.model_validate(config_for(environment, state_dir, redis_url))
    before, serving = str(bed.version()), bed.api_containers()
    version = "crash-on-health"
    record, users = deploy_row(bed, settings, redis_conn, bed.release(version, "crash_on_health"))
    assert record.state == "reverted" and record.failed_stage == "health", record.error
    line = assert_cause(record, ("api restarted ", "api is restarting", "api exited with "))
    assert "a crash, not waiting out " in line, line  # not "not healthy within"
    assert bed.api_containers() == serving, "not the old container taken back"
    serves(bed, before)
    each_cell(users, answered_last(before))
    assert any(version in c.versions() for c in users.by_proxy.values()), "it never served"
