"""Replicas: a service of 2 swapped one container at a time behind a real Caddy, under load.

Its own bed (tests/zdt_app with `deploy.replicas: 2`); a watcher counts, every 0.1 s, the api
containers that Docker's DNS answers `api` with and that Docker calls healthy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from config import Settings
from jobs.state.records import DeployStore
from tests.support.deploying import config_for, deploy, wait_for
from tests.support.failures import assert_cause
from tests.support.zdt_bed import BedStarter, Clients, ProxyBed

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def bed(
    start_proxy_bed: BedStarter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyBed]:
    """The matrix app at v1, two replicas, used through Caddy resolving per request."""
    root = tmp_path_factory.mktemp("replicas")
    with start_proxy_bed(root, replicas=2) as bed:
        yield bed


class Watcher:
    """The fewest containers in the name and healthy, seen during a deploy, and what the api
    containers looked like at that moment (a failure then says which one was missing, and why:
    out of the name, or not healthy with its last probe's output)."""

    def __init__(self, bed: ProxyBed) -> None:
        self.bed, self.fewest, self.stop = bed, 99, threading.Event()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self.stop.wait(0.1):
            count, view = self.bed.in_name_and_healthy()
            if count < self.fewest:
                self.fewest, self.seen = count, view

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


@pytest.mark.parametrize(
    ("version", "behaviour", "state"),
    [
        ("two", "good", "succeeded"),
        ("never", "unhealthy", "reverted"),
        ("three", "good", "succeeded"),
    ],
)
def test_replicas_swap_one_at_a_time_never_fewer_than_two_in_the_name(
    bed: ProxyBed,
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    redis_conn: redis.Redis,
    version: str,
    behaviour: str,
    state: str,
) -> None:
    """Two replicas, batch 1: 0 failed, never fewer than 2 healthy in the name, bad one unseen."""
    environment = {**bed.environment_config(), "zero_downtime_batch": 1}
    state_dir = tmp_path_factory.mktemp("state")
    settings = Settings.model_validate(config_for(environment, state_dir, redis_url))
    before = bed.version()
    with Watcher(bed) as watcher, Clients(bed.port) as clients:
        record = deploy(settings, redis_conn, bed.release(version, behaviour))
    assert record.state == state, record.error
    assert clients.failed() == [], [vars(a) for a in clients.failed()[:5]]
    assert watcher.fewest >= 2, f"only {watcher.fewest} healthy in the name: {watcher.seen}"
    assert len(bed.api_containers()) == 2
    expected = {before, version} if state == "succeeded" else {before}
    assert set(clients.versions()) == expected, clients.versions()


def test_a_later_batch_failing_takes_back_the_draining_old_container(
    bed: ProxyBed,
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    redis_conn: redis.Redis,
) -> None:
    """Two replicas, batch 1: the second new container crash-loops while the first batch's old
    container drains; the revert takes that one back into the name instead of starting a new
    one (the api containers are the two from before), 0 failed, never fewer than 2 in the name."""
    # A drain long enough that the revert reaches the take-back on a loaded machine; it ends
    # when taken back, so it costs nothing then.
    environment = {
        **bed.environment_config(),
        "zero_downtime_batch": 1,
        "zero_downtime_drain": 15,
    }
    settings = Settings.model_validate(
        config_for(environment, tmp_path_factory.mktemp("state"), redis_url)
    )
    before, serving = bed.version(), bed.api_containers()
    with Watcher(bed) as watcher, Clients(bed.port) as clients:
        record = deploy(settings, redis_conn, bed.release("first", "first_only"))
    assert record.state == "reverted" and record.failed_stage == "swap", record.error
    assert_cause(record, "api: new container failed (")
    assert clients.failed() == [], [vars(a) for a in clients.failed()[:5]]
    assert watcher.fewest >= 2, f"only {watcher.fewest} healthy in the name: {watcher.seen}"
    assert bed.api_containers() == serving, "expected the draining old container taken back"
    answered = [answer.version for answer in clients.answers if answer.version]
    assert set(answered) <= {before, "first"} and answered[-1] == before, clients.versions()


def test_free_addresses_below_the_old_containers_cut_none_of_their_connections(
    bed: ProxyBed,
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    redis_conn: redis.Redis,
) -> None:
    """Docker gives a reconnecting container the lowest free address, not its own. With free
    addresses below both old api containers, each leave of the name must still bring the old
    container back on its own address: the kept connections and the 5 s requests on it finish
    (without the stand-ins of jobs/runbook/stages/address_holds.py they hung until the
    clients' timeouts)."""
    old_addresses = bed.free_addresses_below_api(base_image, 3)
    environment = {**bed.environment_config(), "zero_downtime_batch": 1}
    settings = Settings.model_validate(
        config_for(environment, tmp_path_factory.mktemp("state"), redis_url)
    )
    wait_for(lambda: bed.version() is not None, 30, "the api through Caddy again")
    before = bed.version()
    with Clients(bed.port, slow=True) as clients:
        record = deploy(settings, redis_conn, bed.release("holes", "good"))
    assert record.state == "succeeded", record.error
    log = "\n".join(DeployStore(redis_conn).log(record.id))
    assert "the connections it had there were cut" not in log, log
    assert all(f"its address {address} " not in log for address in old_addresses), log
    assert clients.failed() == [], [vars(a) for a in clients.failed()[:5]]
    assert set(clients.versions()) == {before, "holes"}, clients.versions()
    slow = [answer for answer in clients.answers if answer.client == "slow"]
    assert any(answer.version == before for answer in slow), "no 5 s request on an old one"
