"""Zero-downtime deploys of the sample app behind a real Caddy, on a real engine and Postgres.

One stack for the module (api + worker + PostgreSQL + Caddy on a Compose bridge network); the
tests deploy on top of each other in order. A client loop GETs through Caddy every 5 ms during
each deploy and counts every answer that is not a 200.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.state.records import Deploy, DeployStore
from tests.support.deploying import config_for, deploy
from tests.support.failures import assert_cause
from tests.support.proxied_app import Load, ProxiedApp
from tests.support.sample_scenarios import VERSIONS

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def zd_settings(
    proxied: ProxiedApp, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Settings:
    config = config_for(proxied.environment_config(), tmp_path_factory.mktemp("state"), redis_url)
    return Settings.model_validate(config)


def _stages(record: Any) -> list[str]:
    return [stage.name for stage in record.stages]


def _deploy_under_load(
    proxied: ProxiedApp, settings: Settings, connection: redis.Redis, sha: str
) -> tuple[Deploy, Load]:
    """Deploy `sha` while the client loop GETs through Caddy every 5 ms."""
    with Load(proxied.api_port) as load:
        record = deploy(settings, connection, sha)
    return record, load


def _none_failed(load: Load) -> None:
    assert load.failed == [], f"{len(load.failed)} of {load.sent} failed: {load.failed[:5]}"


def test_deploy_refuses_a_service_that_cannot_swap_before_changing_anything(
    proxied: ProxiedApp, tmp_path: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """The first stage refuses the proxy (fixed host port); nothing changes. Its lack of a
    Compose healthcheck is no refusal there: its image's HEALTHCHECK is checked after a build."""
    environment = proxied.environment_config(zero_downtime=["api", "proxy"])
    settings = Settings.model_validate(config_for(environment, tmp_path / "state", redis_url))
    before = proxied.container_ids()
    record = deploy(settings, redis_conn, proxied.commit({"VERSION": "refused\n"}, "Refused"))
    assert record.state == "failed" and record.failed_stage == "snapshot", record.error
    assert_cause(record, "zero_downtime: service proxy publishes fixed host port")
    error = record.error or ""
    assert f"service proxy publishes fixed host port {proxied.api_port}" in error
    assert "healthcheck" not in error and "service api" not in error
    assert _stages(record) == ["snapshot"]
    assert proxied.container_ids() == before and proxied.checked_out() == proxied.v1


def test_good_deploy_with_migration_before_swap_fails_no_request(
    proxied: ProxiedApp, zd_settings: Settings, redis_conn: redis.Redis
) -> None:
    """A migration before a rolling swap: the api moves to v2 and no request through Caddy fails.
    Caddy resolves `api` at each connection, so the old api leaves the name right after the new
    one joined (no settle), and the worker was recreated while the new api booted."""
    old = proxied.containers_of("api")
    sha = proxied.good_change()
    record, load = _deploy_under_load(proxied, zd_settings, redis_conn, sha)
    assert record.state == "succeeded", record.error
    assert _stages(record)[4:7] == ["build", "migrate", "swap"]
    _none_failed(load)
    log = DeployStore(redis_conn).log(record.id)
    settle = "settle 0s between a join and a leave: Caddy resolves api at each connection"
    assert any(settle in line for line in log), log
    commands = DeployStore(redis_conn).commands(record.id)
    others = next(
        c for c in commands if c["argv"][-4:] == ["--no-deps", "postgres", "proxy", "worker"]
    )
    join = next(c for c in commands if c["argv"][:3] == ["docker", "network", "connect"]
                and c["argv"][-4:-2] == ["--alias", "api"])  # fmt: skip
    # Beside the new api's start, once it is out of the name (not running, nothing on it), and
    # over before any running container reconnected (a start beside a reconnect can take the
    # address it released).
    out = next(c for c in commands if c["argv"][:3] == ["docker", "network", "connect"])
    start = next(c for c in commands if c["argv"][:2] == ["docker", "start"])
    assert out["started"] + out["duration"] <= others["started"], "before the api left the name"
    assert others["started"] < start["started"] + start["duration"], "the worker waited for the api"
    assert others["started"] + others["duration"] <= join["started"]
    # The fingerprint the migration is compared with is read beside the build, from the
    # backup on; the closing one beside the swap: its schema dump starts before the new api's
    # start has ended. Two dumps in all, and the change is on the record.
    opening, closing = (c for c in commands if "--schema-only" in c["argv"])
    build = next(c for c in commands if "build" in c["argv"])
    assert opening["started"] < build["started"] + build["duration"], "read after the build"
    assert closing["started"] < start["started"] + start["duration"], "read before the swap"
    assert record.database_change == "changed"
    said = [line[9:] for line in log]  # without the time
    assert said.index("database after the migration: changed") < said.index("== health")
    assert load.sent > 100 and load.bodies.get("2", 0) > 0
    new = proxied.containers_of("api")
    assert len(new) == 1 and new != old
    assert proxied.running_version() == "2"
    assert proxied.psql("SELECT count(*) FROM customers WHERE phone IS NOT NULL") != ""


def test_good_deploy_without_new_migration_fails_no_request(
    proxied: ProxiedApp, zd_settings: Settings, redis_conn: redis.Redis
) -> None:
    """A code-only change swaps rolling: old and new api overlap and no request fails. Without
    health.port the health stage waits until the old api is gone, and says so."""
    sha = proxied.side_commit("main")
    record, load = _deploy_under_load(proxied, zd_settings, redis_conn, sha)
    assert record.state == "succeeded", record.error
    _none_failed(load)
    assert proxied.running_version() == "side"
    log = DeployStore(redis_conn).log(record.id)
    waited = [line for line in log if "have drained and gone, then reading the health" in line]
    assert waited and "health.port is not set" in waited[0], log
    removed = max(i for i, line in enumerate(log) if "$ docker rm " in line)
    assert removed < next(i for i, line in enumerate(log) if line[9:].startswith("healthy: "))


def test_failure_after_swap_swaps_back_rolling(
    proxied: ProxiedApp, zd_settings: Settings, redis_conn: redis.Redis, capsys: Any
) -> None:
    """Health of another service fails after the swap: the api is swapped back rolling."""
    before = proxied.containers_of("api")
    sha = proxied.worker_broken()
    record, load = _deploy_under_load(proxied, zd_settings, redis_conn, sha)
    assert record.state == "reverted", record.error
    assert record.failed_stage == "health", record.error
    assert_cause(record, "worker is unhealthy")
    assert proxied.running_version() == "side"
    after = proxied.containers_of("api")
    assert len(after) == 1 and after != before  # a third container: swapped there and back
    with capsys.disabled():
        print(f"\nfailure after swap: {len(load.failed)} of {load.sent} requests failed, "
              f"longest gap {load.longest_gap:.3f}s")  # fmt: skip
    _none_failed(load)


def test_never_healthy_container_is_removed_and_old_keeps_serving(
    proxied: ProxiedApp, zd_settings: Settings, redis_conn: redis.Redis
) -> None:
    """A new api that never gets healthy served nothing and is removed; the old never stopped.
    The worker, recreated beside the api's swap, runs its previous image again."""
    old = proxied.containers_of("api")
    images = proxied.image_ids()
    sha = proxied.never_healthy()
    record, load = _deploy_under_load(proxied, zd_settings, redis_conn, sha)
    assert record.state == "reverted", record.error
    assert record.failed_stage == "swap"
    assert "kept serving" in (record.error or "")
    assert_cause(record, "not healthy within")
    # Its migration changed nothing; the closing fingerprint, read beside the swap, is in
    # before the revert decides: not restored.
    assert record.database_change == "unchanged"
    assert "database unchanged: not restored" in (record.error or "")
    _none_failed(load)
    # It answers /api/v1/version with 200: only its version says it served nobody.
    assert VERSIONS["never_healthy"] not in load.bodies, load.bodies
    assert proxied.containers_of("api") == old
    assert proxied.running_version() == "side"
    assert proxied.image_ids() == images
