"""A worker is known by host, pid and a boot nonce, and lives while its heartbeat does: a
restarted worker with the same pid (a container's PID 1) recovers its predecessor's deploy."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict
from pathlib import Path

import redis

from config import load_settings
from jobs.runbook.recovery import recover_interrupted
from jobs.state import keys
from jobs.state.locks import LockOwner
from jobs.state.owners import BOOT
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from jobs.state.workers import (
    HEARTBEAT_TTL,
    outlived,
    start_heartbeat,
    worker_name,
    worker_state,
)

SECRETS = {"CRM_WEBHOOK_SECRET": "s3cret-for-the-tests"}


def test_a_restarted_pid_1_recovers_the_deploy_its_predecessor_left(
    redis_conn: redis.Redis, example_config_path: Path
) -> None:
    """A deploy left `running` by a worker with our host and pid but another boot (killed and
    restarted as the same PID 1), its lock still held, is recovered at once, not judged alive."""
    settings = load_settings(example_config_path, SECRETS)
    store = DeployStore(redis_conn)
    record = Deploy(new_deploy_id(), "crm", "dev", "branch", "main", "a" * 40, "test push")
    store.create(record)
    predecessor = f"{socket.gethostname()}:{os.getpid()}:0123456789ab"
    store.transition(record, "running", worker=predecessor)
    held = LockOwner(record.id, socket.gethostname(), os.getpid(), "2026", "deploy", "0123456789ab")
    redis_conn.set(keys.lock(record.target), json.dumps(asdict(held), sort_keys=True), px=30_000)
    redis_conn.set(keys.worker(predecessor), "1", ex=HEARTBEAT_TTL)  # not expired yet
    assert recover_interrupted(settings, redis_conn, ["deploys.local"]) == [record.id]
    recovered = store.get(record.id)
    assert recovered.state == "failed" and "nothing was changed" in str(recovered.error)
    assert redis_conn.get(keys.lock(record.target)) is None


def test_heartbeat_names_and_states(redis_conn: redis.Redis) -> None:
    """This process is alive; another beating worker is alive until its key goes; a name whose
    heartbeat expired is dead, on any host; stopping removes the key at once."""
    assert worker_name().endswith(f":{os.getpid()}:{BOOT}")
    assert worker_state(redis_conn, worker_name()) == "alive"
    elsewhere = "build-2:4242:feedfacecafe"
    assert worker_state(redis_conn, elsewhere) == "dead"
    redis_conn.set(keys.worker(elsewhere), "1", ex=HEARTBEAT_TTL)
    assert worker_state(redis_conn, elsewhere) == "alive"
    stop = start_heartbeat(redis_conn)
    assert 0 < redis_conn.ttl(keys.worker(worker_name())) <= HEARTBEAT_TTL
    stop()
    assert not redis_conn.exists(keys.worker(worker_name()))
    assert worker_state(redis_conn, None) == "unknown"


def test_a_renewed_heartbeat_is_alive_and_one_nothing_renews_runs_out(
    redis_conn: redis.Redis,
) -> None:
    """Recovery waits for another worker's heartbeat to expire: one renewed while it waits is
    alive (the rest is not waited out), one that nothing renews runs out and is dead."""
    beating, killed = "build-2:4242:feedfacecafe", "build-3:4343:0123456789ab"
    redis_conn.set(keys.worker(beating), "1", px=4000)

    def beat_twice_then_die() -> None:
        # Like a real worker (a 30 s key renewed every 10 s, looked at every second), it beats
        # less often than `outlived` looks, so a look after a beat finds more time left than the
        # look before it. (Beats every 0.5 s against looks every 1 s could land in step with
        # the looks and show the same time left each time: that flaked under load.)
        for _ in range(2):
            time.sleep(2)
            redis_conn.set(keys.worker(beating), "1", px=4000)

    beater = threading.Thread(target=beat_twice_then_die)
    beater.start()
    # Without the renewal telling, its key would run out 4 s after the last beat: "dead".
    assert outlived(redis_conn, beating) is False
    beater.join()
    redis_conn.set(keys.worker(killed), "1", px=1500)
    assert outlived(redis_conn, killed) is True
    assert not redis_conn.exists(keys.worker(killed))
