"""The zero-downtime matrix's rows, written once: each column module subclasses `MatrixRows`.

A column is one proxy (tests/zdt_app behind Caddy resolving per request, Caddy with a
`dynamic a` upstream, or nginx with a resolver and a variable upstream), in its own test module
(tests/runbook/test_zero_downtime_matrix_*_e2e.py) so that `--dist loadfile` runs the columns on
different workers. The rows deploy on top of each other in order on one bed per column. Two
clients run through the proxy during each deploy: one opens a new connection per request, one
keeps its connection alive. Every answer names the version that served it; every cell must
show 0 failed requests, and the right versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest
import redis

from config import Settings
from jobs.state.records import Deploy
from tests.support.deploying import config_for, deploy
from tests.support.docker_engine import Engine
from tests.support.failures import assert_cause
from tests.support.zdt_bed import Clients, ProxyBed, proxies


def _deploy(
    bed: ProxyBed, settings: Settings, connection: redis.Redis, sha: str, slow: bool = False
) -> tuple[Deploy, Clients]:
    with Clients(bed.port, slow=slow) as clients:
        record = deploy(settings, connection, sha)
    return record, clients


def _no_failed(clients: Clients) -> None:
    failed = clients.failed()
    sent = len(clients.answers)
    assert failed == [], f"{len(failed)} of {sent} failed: {[vars(a) for a in failed[:5]]}"
    assert clients.versions("fresh") and clients.versions("kept"), clients.versions()


def _swapped(
    bed: ProxyBed, settings: Settings, connection: redis.Redis, version: str, behaviour: str
) -> Clients:
    """Deploy a release that must succeed; both versions served, the new one last."""
    before = bed.version()
    record, clients = _deploy(bed, settings, connection, bed.release(version, behaviour))
    assert record.state == "succeeded", record.error
    _no_failed(clients)
    assert set(clients.versions()) == {before, version}, clients.versions()
    assert bed.version() == version
    return clients


# What the swap's failure names for each release that never serves (the Docker health seen at
# the failure, or the timeout while it still starts on a loaded machine).
CAUSES = {
    "unhealthy": ("api: new container failed (running, health unhealthy", "not healthy within"),
    "crash": ("api: new container failed (restarting", "api: new container failed (exited"),
}


def _never_served(
    bed: ProxyBed, settings: Settings, connection: redis.Redis, behaviour: str
) -> None:
    before, serving = bed.version(), bed.api_containers()
    version = f"{behaviour}-{bed.proxy.name}"
    record, clients = _deploy(bed, settings, connection, bed.release(version, behaviour))
    assert record.state == "reverted" and record.failed_stage == "swap", record.error
    line = assert_cause(record, CAUSES[behaviour])
    assert "…" not in line and line.endswith("removed unserved, old one(s) kept serving"), line
    _no_failed(clients)
    assert version not in clients.versions(), clients.versions()
    assert bed.api_containers() == serving, "the old container stopped"
    assert bed.version() == before


class MatrixRows:
    """The rows, in the order they deploy; a subclass named `Test...` sets `proxy`."""

    proxy: ClassVar[str]

    @pytest.fixture(scope="class")
    @classmethod
    def bed(
        cls,
        docker_engine: Engine,
        compose_command: list[str],
        base_image: str,
        caddy_image: str,
        nginx_image: str,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> Iterator[ProxyBed]:
        """The matrix app at v1 behind this column's proxy, for every row of the column."""
        proxy = proxies(caddy_image, nginx_image)[cls.proxy]
        bed = ProxyBed(docker_engine, compose_command, tmp_path_factory.mktemp(proxy.name), proxy)
        bed.start(base_image)
        yield bed
        bed.stop()

    @pytest.fixture(scope="class")
    @classmethod
    def settings(
        cls, bed: ProxyBed, tmp_path_factory: pytest.TempPathFactory, redis_url: str
    ) -> Settings:
        state = tmp_path_factory.mktemp("state")
        return Settings.model_validate(config_for(bed.environment_config(), state, redis_url))

    def test_good_release(self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis) -> None:
        """A good release: no failed request, the new version serves after the swap."""
        _swapped(bed, settings, redis_conn, f"good-{bed.proxy.name}", "good")

    def test_good_release_with_migration_before_swap(
        self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
    ) -> None:
        """A release that is healthy only on the migrated schema: migrated first, then swapped."""
        record, clients = _deploy(
            bed, settings, redis_conn, bed.commit({"VERSION": "mig\n", "SCHEMA": "2\n"}, "Migrate")
        )
        assert record.state == "succeeded", record.error
        stages = [stage.name for stage in record.stages]
        assert stages.index("migrate") < stages.index("swap"), stages
        _no_failed(clients)
        assert bed.version() == "mig"

    def test_release_that_answers_but_fails_its_healthcheck_serves_nothing(
        self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
    ) -> None:
        """Listens and answers 200, healthcheck fails: it serves 0 requests; the old never stops."""
        _never_served(bed, settings, redis_conn, "unhealthy")

    def test_crash_looping_release_serves_nothing(
        self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
    ) -> None:
        """Listens, answers, never ready, exits, restarts: fails at its first restart, served 0
        requests (its healthcheck never passes, so no probe can call it healthy by luck)."""
        _never_served(bed, settings, redis_conn, "crash")

    def test_release_healthy_then_crashing_never_takes_the_name_alone(
        self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
    ) -> None:
        """Healthy to Docker, then crashes 2 s later, and again after each restart: the swap
        sees the crash before any old container leaves the name, and the deploy ends reverted,
        never succeeded. (It may serve a few requests while it was healthy, and one in flight
        at its crash may fail: what is asserted is the outcome and the old container.)"""
        before, serving = bed.version(), bed.api_containers()
        version = f"crash-after-ready-{bed.proxy.name}"
        record, clients = _deploy(
            bed, settings, redis_conn, bed.release(version, "crash_after_ready")
        )
        assert record.state == "reverted" and record.failed_stage == "swap", record.error
        line = assert_cause(record, "api: new container failed after it joined the name (")
        assert "…" not in line, line
        assert bed.api_containers() == serving, "the old container stopped"
        assert bed.version() == before
        answered = [answer.version for answer in clients.answers if answer.version]
        assert answered[-1] == before, clients.versions()

    def test_slow_starting_release(
        self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
    ) -> None:
        """Listens at once but answers 503 for 10 s: no user sees a 503, it serves once healthy."""
        _swapped(bed, settings, redis_conn, f"slow-{bed.proxy.name}", "slow")

    def test_release_that_ignores_sigterm_and_its_retirement(
        self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
    ) -> None:
        """A release that ignores SIGTERM swaps in, then out again (SIGKILL after its grace)."""
        _swapped(bed, settings, redis_conn, f"deaf-{bed.proxy.name}", "ignore_term")
        _swapped(bed, settings, redis_conn, f"after-deaf-{bed.proxy.name}", "good")

    def test_five_second_request_in_flight_during_swap_completes(
        self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
    ) -> None:
        """5 s requests back to back on an old version that dies at once on SIGTERM complete."""
        before = f"abrupt-{bed.proxy.name}"
        _swapped(bed, settings, redis_conn, before, "abrupt")
        version = f"inflight-{bed.proxy.name}"
        record, clients = _deploy(
            bed, settings, redis_conn, bed.release(version, "good"), slow=True
        )
        assert record.state == "succeeded", record.error
        _no_failed(clients)
        first_new = min(a.ended for a in clients.answers if a.version == version)
        across = [
            a for a in clients.answers
            if a.client == "slow" and a.version == before and a.started < first_new < a.ended
        ]  # fmt: skip
        assert across, "expected a 5 s request on the old version in flight across the swap"

    def test_failure_after_swap_reverts_with_the_same_discipline(
        self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
    ) -> None:
        """Healthy to Docker, failing the health URL: reverted to the previous version, 0 failed."""
        before = bed.version()
        version = f"fails-{bed.proxy.name}"
        record, clients = _deploy(bed, settings, redis_conn, bed.release(version, "fails_after"))
        assert record.state == "reverted" and record.failed_stage == "health", record.error
        assert_cause(record, "not healthy within")
        _no_failed(clients)
        assert bed.version() == before
        assert clients.answers[-1].version == before


def crashed_after_swap(bed: ProxyBed, settings: Settings, connection: redis.Redis) -> None:
    """Deploy a release that passes the swap, then crashes on the health stage's first request:
    the health stage fails at the crash, without waiting out `health.timeout`, and the revert
    puts the previous version back. With the old containers gone, nothing serves the requests
    of the crash's instant: what is asserted is the outcome, the cause and the version."""
    before = bed.version()
    version = f"crash-on-health-{bed.proxy.name}"
    record, clients = _deploy(bed, settings, connection, bed.release(version, "crash_on_health"))
    assert record.state == "reverted" and record.failed_stage == "health", record.error
    line = assert_cause(record, ("api restarted ", "api is restarting", "api exited with "))
    assert "a crash, not waiting out " in line, line  # not "not healthy within"
    assert bed.version() == before
    assert version in clients.versions() and clients.answers[-1].version == before
