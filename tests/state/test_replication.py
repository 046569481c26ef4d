"""Redis with replicas behind Sentinel: the intake answers 202 only once a replica holds the
delivery, and 503 with Retry-After when none does in time; everything connects through the
sentinels. One bed (a master, two replicas, three sentinels) serves the whole module."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask.testing import FlaskClient
from rq import Queue

from config import Settings, parse_settings
from jobs.doctor.check import Status
from jobs.state import keys
from jobs.state.connection import connect
from jobs.state.records import FINAL_STATES, DeployStore
from jobs.state.replication import NotReplicated, wait_for_replicas
from tests.support.deliveries import SECRETS, config_text
from tests.support.pushes import push_to
from tests.support.sentinel_bed import SentinelBed, sentinel_bed, two_host_config
from tests.support.web import DEPLOYHOOK, REPO_ROOT
from webhook.app import create_app
from webhook.operator.doctor import check_redis


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelBed]:
    with sentinel_bed(tmp_path_factory.mktemp("sentinel")) as started:
        yield started


def settings_for(state: Path, redis_section: dict[str, Any]) -> Settings:
    text = config_text(state) + yaml.safe_dump({"redis": redis_section})
    return parse_settings(text, "test config", SECRETS)


def client_for(state: Path, redis_section: dict[str, Any]) -> FlaskClient:
    return create_app(settings_for(state, redis_section)).test_client()


@contextmanager
def replicas_stalled(bed: SentinelBed) -> Iterator[None]:
    """The replicas stop (SIGSTOP) for the block: replication stalls, the master serves on."""
    replicas = [node for node in bed.servers if node is not bed.master()]
    for node in replicas:
        node.signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for node in replicas:
            node.signal(signal.SIGCONT)


def test_one_replica_acknowledging_is_enough_by_default(bed: SentinelBed, tmp_path: Path) -> None:
    """Through the sentinels, with one of two replicas stalled: 202, and the other replica
    already holds the deploy record when the answer comes."""
    client = client_for(tmp_path, bed.config())
    master = bed.master()
    stalled, streaming = [node for node in bed.servers if node is not master]
    stalled.signal(signal.SIGSTOP)
    try:
        answer = push_to(client, str(uuid.uuid4()))
    finally:
        stalled.signal(signal.SIGCONT)
    assert answer.status_code == 202, answer.get_json()
    assert streaming.client().exists(keys.deploy(answer.get_json()["deploy_id"])) == 1


def test_no_replica_in_time_is_a_503_with_retry_after(bed: SentinelBed, tmp_path: Path) -> None:
    """Replication stalled: the push is answered 503 with Retry-After, not 202, within the
    replica timeout; once replicas are back, its redelivery is acknowledged."""
    client = client_for(tmp_path, bed.config(replica_timeout=0.3))
    delivery = str(uuid.uuid4())
    with replicas_stalled(bed):
        answer = push_to(client, delivery)
    assert answer.status_code == 503, answer.get_json()
    assert answer.headers["Retry-After"] == "5"
    assert "retry" in answer.get_json()["error"]
    again = push_to(client, delivery)
    # Its write reached the master before the wait failed: the redelivery finds it queued.
    assert again.status_code == 200, again.get_json()
    store = DeployStore(connect(settings_for(tmp_path, bed.config())))
    assert store.get(again.get_json()["duplicate_of"]).delivery_id == delivery


def test_a_duplicate_answer_waits_for_a_replica_too(bed: SentinelBed, tmp_path: Path) -> None:
    """A redelivery answered `duplicate_of` is a promise as well: 503 while no replica has it."""
    client = client_for(tmp_path, bed.config(replica_timeout=0.3))
    delivery = str(uuid.uuid4())
    assert push_to(client, delivery).status_code == 202
    with replicas_stalled(bed):
        answer = push_to(client, delivery)
    assert answer.status_code == 503, answer.get_json()
    assert answer.headers["Retry-After"] == "5"


def test_with_no_replica_required_the_intake_answers_as_before(
    bed: SentinelBed, tmp_path: Path
) -> None:
    """`replicas: 0`: today's behaviour, a 202 as soon as the master holds the delivery."""
    client = client_for(tmp_path, bed.config(replicas=0))
    with replicas_stalled(bed):
        answer = push_to(client, str(uuid.uuid4()))
    assert answer.status_code == 202, answer.get_json()


def test_a_plain_url_with_replicas_required_waits_too(bed: SentinelBed, tmp_path: Path) -> None:
    """`redis.url` at the master plus `replicas: 1` (no Sentinel): the same wait and 503."""
    section = {"url": f"redis://{bed.master().address}/0", "replicas": 1, "replica_timeout": 0.3}
    client = client_for(tmp_path, section)
    assert push_to(client, str(uuid.uuid4())).status_code == 202
    with replicas_stalled(bed):
        answer = push_to(client, str(uuid.uuid4()))
    assert answer.status_code == 503, answer.get_json()


def test_no_sentinel_answering_is_a_503_not_a_500(bed: SentinelBed, tmp_path: Path) -> None:
    """Sentinels listed that do not answer: the intake says 503 with Retry-After."""
    section = {"sentinel": {"sentinels": ["127.0.0.1:1"], "master": "deployhook"}}
    answer = push_to(client_for(tmp_path, section), str(uuid.uuid4()))
    assert answer.status_code == 503, answer.get_json()
    assert answer.headers["Retry-After"] == "5"


def test_connect_follows_the_sentinels_to_the_master(bed: SentinelBed, tmp_path: Path) -> None:
    """The shared connection writes to the master the sentinels name, with its password."""
    master = bed.master()
    master.client().config_set("requirepass", "s3cret-for-tests")
    try:
        section = bed.config()
        section["sentinel"]["password"] = "s3cret-for-tests"
        connection = connect(settings_for(tmp_path, section))
        connection.set("deployhook:test:through-sentinel", "yes")
        assert connection.connection_pool.get_master_address() == ("127.0.0.1", master.port)
        wrong = bed.config()
        wrong["sentinel"]["password"] = "wrong"
        with pytest.raises(redis.AuthenticationError):
            connect(settings_for(tmp_path, wrong)).ping()
    finally:
        master.client(password="s3cret-for-tests").config_set("requirepass", "")


def test_the_wait_covers_writes_made_on_another_connection(
    bed: SentinelBed, tmp_path: Path
) -> None:
    """A fresh connection's wait still covers what another connection wrote before it (the
    pooled transaction, a duplicate's marker): stalled replicas mean NotReplicated."""
    settings = settings_for(tmp_path, bed.config())
    writer, waiter = connect(settings), connect(settings)
    with replicas_stalled(bed):
        writer.set("deployhook:test:other-connection", uuid.uuid4().hex)
        with pytest.raises(NotReplicated, match="0 of 1 replica"):
            wait_for_replicas(waiter, 1, 0.2)
    wait_for_replicas(waiter, 1, 5)  # back: the same wait succeeds


def test_doctor_sees_every_sentinel_and_the_replicas(bed: SentinelBed, tmp_path: Path) -> None:
    """doctor through the sentinels: each one answers and names the master, two replicas
    stream; a listed sentinel that is not running is a failure naming its address."""
    findings = check_redis(settings_for(tmp_path, bed.config()))
    by_check = {
        check: [f for f in findings if f.check == check] for check in ("sentinel", "replicas")
    }
    assert [f.status for f in by_check["sentinel"]] == [Status.OK] * 3
    assert all(f"127.0.0.1:{bed.master().port}" in f.detail for f in by_check["sentinel"])
    assert [f.status for f in by_check["replicas"]] == [Status.OK]
    assert "2 replica(s) connected" in by_check["replicas"][0].detail
    section = bed.config()
    section["sentinel"]["sentinels"].append("127.0.0.1:1")
    findings = check_redis(settings_for(tmp_path, section))
    failed = [f for f in findings if f.check == "sentinel" and f.status == Status.FAIL]
    assert [f.detail.split(":")[0:2] for f in failed] == [["127.0.0.1", "1"]]


def test_workers_on_two_hosts_each_take_only_their_own_deploys(
    bed: SentinelBed, tmp_path: Path
) -> None:
    """One push for environments on hosts a and b: the intake queues one deploy on each
    host's queue, and `deployhook worker --host a` (through the sentinels) takes a's only."""
    path = two_host_config(tmp_path, bed)
    settings = parse_settings(path.read_text(), str(path), SECRETS)
    answer = push_to(create_app(settings).test_client(), str(uuid.uuid4()))
    assert answer.status_code == 202, answer.get_json()
    deploys = {d["environment"]: d["deploy_id"] for d in answer.get_json()["deploys"]}
    connection = connect(settings)
    assert Queue("deploys.a", connection=connection).job_ids == [deploys["on-a"]]
    assert Queue("deploys.b", connection=connection).job_ids == [deploys["on-b"]]
    argv = [*DEPLOYHOOK, "worker", "--config", str(path), "--host", "a", "--burst"]
    env = {**os.environ, **SECRETS, "PYTHONPATH": str(REPO_ROOT)}
    finished = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
    store = DeployStore(connection)
    assert store.get(deploys["on-a"]).state in FINAL_STATES  # ran (and failed: no checkout)
    assert store.get(deploys["on-b"]).state == "queued"  # left for host b's worker
    assert Queue("deploys.b", connection=connection).job_ids == [deploys["on-b"]]
