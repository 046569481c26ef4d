"""Drill: the Redis master is SIGKILLed while 1,000 signed pushes flow through two intakes
behind Caddy; Sentinel promotes a replica. No acknowledged delivery is lost.

Real parts only: Debian's redis-server (a master, two replicas) and redis-sentinel (three),
two `deployhook serve` processes (gunicorn) configured with `redis.sentinel`, and Caddy
balancing between them. Just before the kill, replication stalls (the replicas are stopped
for a second, as a slow network would), so the master holds deliveries no replica has: an
intake that answered 202 without waiting for a replica would lose exactly those.

Every 202 (and every `duplicate_of` answer) must have its deploy record on the new master
afterwards; every other answer is a 503 with Retry-After, never a 500; a redelivery of each
503 is then acknowledged, and each delivery has exactly one record. A second drill keeps a
worker running through the kill: it must take its host's next deploy from the new master.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from rq import Worker

from config import parse_settings
from jobs.state import keys
from jobs.state.connection import connect
from jobs.state.records import FINAL_STATES, DeployStore, RecordError
from tests.support.deliveries import SECRETS, config_text, github_headers
from tests.support.deploying import wait_for
from tests.support.pushes import push_body, push_to
from tests.support.sentinel_bed import SentinelBed, sentinel_bed, two_host_config
from tests.support.web import DEPLOYHOOK, REPO_ROOT, free_port, running, stop
from webhook.app import create_app

PUSHES = 1000
SENDERS = 8
KILL_AFTER = 300  # answers before replication stalls and the master is killed
STALL_SECONDS = 1.0
REDELIVERY_DEADLINE = 60.0  # seconds one delivery may be refused after the failover


@dataclass
class Answer:
    status: int
    deploy_id: str | None  # the 202's deploy id, or the duplicate's original
    at: float


def _post(base: str, delivery: str) -> Answer:
    body = push_body(delivery)
    response = requests.post(
        f"{base}/hooks/crm", data=body, headers=github_headers(body, delivery=delivery), timeout=30
    )
    # Never a 500 (nor a 502 from Caddy: neither intake may fall over).
    assert response.status_code in {200, 202, 503}, (response.status_code, response.text)
    if response.status_code == 503:
        assert response.headers.get("Retry-After") == "5", response.headers
        return Answer(503, None, time.monotonic())
    answer = response.json()
    return Answer(
        response.status_code, answer.get("deploy_id") or answer["duplicate_of"], time.monotonic()
    )


@contextmanager
def _intakes_behind_caddy(config: Path, root: Path) -> Iterator[str]:
    """Two `deployhook serve` processes and Caddy round-robin in front; yields Caddy's URL."""
    with ExitStack() as stack:
        upstreams = []
        for index in range(2):
            port = free_port()
            argv = [*DEPLOYHOOK, "serve", "--config", str(config)]
            argv += ["--bind", f"127.0.0.1:{port}", "--workers", "2"]
            log = root / f"intake{index}.log"
            stack.enter_context(running(argv, SECRETS, f"http://127.0.0.1:{port}", log=log))
            upstreams.append(f"127.0.0.1:{port}")
        port = free_port()
        caddyfile = root / "Caddyfile"
        caddyfile.write_text(
            "{\n  admin off\n  auto_https off\n}\n"
            f"http://127.0.0.1:{port} {{\n"
            f"  reverse_proxy {' '.join(upstreams)} {{\n    lb_policy round_robin\n  }}\n}}\n"
        )
        home = {"HOME": str(root), "XDG_DATA_HOME": str(root), "XDG_CONFIG_HOME": str(root)}
        argv = ["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"]
        base = f"http://127.0.0.1:{port}"
        stack.enter_context(running(argv, home, base, log=root / "caddy.log"))
        yield base


def _fail_over(bed: SentinelBed, killed_at: list[float]) -> None:
    """Cut replication for a second, SIGKILL the master, let the replicas run again.

    Stopping the replicas alone is not enough: the kernel keeps receiving the replication
    stream into their sockets, and they would read it all after SIGCONT. So the master also
    drops their links (as a partition would) while they cannot reconnect.
    """
    master = bed.master()
    replicas = [node for node in bed.servers if node is not master]
    for node in replicas:
        node.signal(signal.SIGSTOP)
    try:
        master.client().client_kill_filter(_type="replica")
        time.sleep(STALL_SECONDS)
        master.kill()
        killed_at.append(time.monotonic())
    finally:
        for node in replicas:
            node.signal(signal.SIGCONT)


@pytest.mark.timeout(400)
def test_sigkill_of_the_master_under_1000_pushes_loses_no_acknowledged_delivery(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Master SIGKILLed mid-flow: every 202 has its record after the failover, 0 lost; the
    rest are 503 with Retry-After, and their redeliveries are acknowledged once each."""
    root = tmp_path_factory.mktemp("drill")
    with sentinel_bed(root / "redis", replicas=2) as bed:
        section = bed.config(replica_timeout=0.5)
        text = config_text(root / "state") + yaml.safe_dump({"redis": section})
        config = root / "deployhook.yml"
        config.write_text(text)
        answers: dict[str, list[Answer]] = {}
        lock = threading.Lock()
        killed_at: list[float] = []

        def send(base: str, delivery: str) -> None:
            answer = _post(base, delivery)
            with lock:
                answers.setdefault(delivery, []).append(answer)
                if len(answers) == KILL_AFTER:
                    threading.Thread(target=_fail_over, args=(bed, killed_at)).start()

        def redeliver(base: str, delivery: str) -> None:
            deadline = time.monotonic() + REDELIVERY_DEADLINE
            while answers[delivery][-1].status == 503:
                assert time.monotonic() < deadline, (
                    f"{delivery} refused for {REDELIVERY_DEADLINE} s"
                )
                time.sleep(0.2)
                answer = _post(base, delivery)
                with lock:
                    answers[delivery].append(answer)

        with _intakes_behind_caddy(config, root) as base:
            deliveries = [str(uuid.uuid4()) for _ in range(PUSHES)]
            with ThreadPoolExecutor(max_workers=SENDERS) as pool:
                for result in [pool.submit(send, base, d) for d in deliveries]:
                    result.result()
            wait_for(lambda: bool(killed_at), 30, "the master's kill")
            new_master = bed.wait_settled(replicas=1)
            # The git host (or its operator) redelivers what was refused, until it is taken.
            with ThreadPoolExecutor(max_workers=SENDERS) as pool:
                for result in [pool.submit(redeliver, base, d) for d in deliveries]:
                    result.result()

        first = [history[0] for history in answers.values()]
        statuses = [answer.status for answer in first]
        redelivered = sum(len(history) - 1 for history in answers.values())
        print(
            f"first answers: {statuses.count(202)} x 202, {statuses.count(200)} x 200, "
            f"{statuses.count(503)} x 503; {redelivered} redeliveries"
        )
        assert statuses.count(503) >= 1, "no delivery met the failover: the drill proved nothing"
        assert any(answer.at > killed_at[0] for answer in first), "the flow ended before the kill"
        connection = connect(parse_settings(text, "drill", SECRETS))
        assert connection.connection_pool.get_master_address()[1] == new_master.port
        store = DeployStore(connection)
        lost = []
        for delivery, history in answers.items():
            for answer in history:
                if answer.status == 503:
                    continue
                try:
                    record = store.get(str(answer.deploy_id))
                except RecordError:
                    lost.append((delivery, answer))
                    continue
                assert record.delivery_id == delivery
        assert lost == [], f"{len(lost)} acknowledged deliveries lost, e.g. {lost[:3]}"
        records = store.history(limit=10 * PUSHES)
        by_delivery = {record.delivery_id: record.id for record in records}
        assert len(records) == len(by_delivery) == PUSHES  # one record per delivery
        for delivery in deliveries:
            marker = connection.get(keys.delivery(f"crm:github:421337:{delivery}"))
            assert marker is not None and marker.decode() == by_delivery[delivery]


@pytest.mark.timeout(300)
def test_a_running_worker_follows_the_failover_without_a_restart(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`deployhook worker --host a` keeps running through the master's SIGKILL and takes the
    next deploy for its host from the promoted master."""
    root = tmp_path_factory.mktemp("worker")
    with sentinel_bed(root / "redis", replicas=2) as bed:
        config = two_host_config(root, bed)
        settings = parse_settings(config.read_text(), str(config), SECRETS)
        argv = [*DEPLOYHOOK, "worker", "--config", str(config), "--host", "a"]
        # A worker that hangs is made to print every thread's stack (SIGABRT) before it stops.
        env = {**os.environ, **SECRETS, "PYTHONPATH": str(REPO_ROOT), "PYTHONFAULTHANDLER": "1"}
        log = (root / "worker.log").open("wb")
        worker = subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            connection = connect(settings)
            wait_for(lambda: Worker.count(connection=connection) == 1, 60, "the worker to start")
            old = bed.master()
            old.kill()
            new = bed.wait_settled(replicas=1)
            assert new is not old
            client = create_app(settings).test_client()
            answer = push_to(client, str(uuid.uuid4()))
            assert answer.status_code == 202, answer.get_json()
            deploys = {d["environment"]: d["deploy_id"] for d in answer.get_json()["deploys"]}
            store = DeployStore(connection)
            try:
                wait_for(
                    lambda: store.get(deploys["on-a"]).state in FINAL_STATES,
                    90,
                    "the worker to take host a's deploy from the new master",
                )
            except AssertionError as error:
                state = store.get(deploys["on-a"]).state
                worker.send_signal(signal.SIGABRT)
                raise AssertionError(f"{error}; on-a is {state}, worker {worker.poll()}") from None
            assert worker.poll() is None, "the worker exited"
            assert store.get(deploys["on-b"]).state == "queued"
        finally:
            stop(worker)
            log.close()
