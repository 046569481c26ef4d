"""Drills on the drain after a zero-downtime success: the old containers are out of the
service's name and drain under the environment's lock while the deploy is already `succeeded`.

One stack for the module (the sample app behind Caddy, `zero_downtime: [api]`, `health.port`:
the release is judged on its own container, so the drain is off the critical path), deployed
on top of itself by each test. A client loop GETs the version through Caddy every 5 ms.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from werkzeug import Request, Response

from config import Settings
from jobs.execution.context import new_context
from jobs.execution.deploylog import DeployLog
from jobs.runbook.stages.snapshot import take_snapshot
from jobs.state.locks import current_owner
from jobs.state.records import Deploy, DeployStore, new_deploy_id, utcnow
from jobs.state.reports import unreported
from tests.support import drills
from tests.support.commands import run
from tests.support.deploying import (
    config_for,
    push,
    start_worker_process,
    wait_for,
    work,
    write_config,
)
from tests.support.provider_server import WEBHOOK, ProviderServer
from tests.support.proxied_app import Load, ProxiedApp
from tests.support.report_setup import FAST_DELIVERY, WEBHOOK_KEY
from tests.support.status import status_app
from tests.support.users import with_test_users

pytestmark = pytest.mark.docker
DRAIN = 12  # seconds: long enough to kill the worker inside it


def _config(
    app: ProxiedApp, state: Path, redis_url: str, provider: ProviderServer, drain: float
) -> dict[str, Any]:
    environment = app.environment_config(zero_downtime_drain=drain)
    environment["health"] = {**environment["health"], "port": 8000}
    config = config_for(environment, state, redis_url)
    webhook = {"url": provider.url(WEBHOOK), "secret": WEBHOOK_KEY, "allow_http": True}
    config["notify"] = {"webhook": webhook, "delivery": FAST_DELIVERY}
    return config


def _exists(app: ProxiedApp, container: str) -> bool:
    found = run(["docker", "ps", "--all", "--quiet", "--no-trunc"], env=app.engine.env).stdout
    return container in found.split()


def _aliases(app: ProxiedApp, container: str) -> str:
    """Every network alias of `container` (its DNS names), one string."""
    template = "{{range .NetworkSettings.Networks}}{{.Aliases}}{{end}}"
    return run(["docker", "inspect", "--format", template, container], env=app.engine.env).stdout


def _draining(store: DeployStore, deploy_id: str) -> bool:
    """The deploy is succeeded and its old container has left the name and drains."""
    return store.get(deploy_id).state == "succeeded" and drills.log_mentions(
        store, deploy_id, "out of the name, draining"
    )


def _unix(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def new_deploy(store: DeployStore) -> Deploy:
    """A queued deploy record of the module's environment."""
    record = Deploy(new_deploy_id(), "sample", "dev", "branch", "main", "a" * 40, "test push")
    store.create(record)
    return record


def _finished_deploy(store: DeployStore, draining: dict[str, str]) -> Deploy:
    """A succeeded deploy whose worker died while these old containers drained."""
    record = new_deploy(store)
    store.transition(record, "running")
    return store.transition(record, "succeeded", draining=draining)


class HeldSuccess:
    """The JSON webhook's receiver, holding every `succeeded` report's answer back until
    released: a worker killed meanwhile dies while it reports, its reporting lock held."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.released = threading.Event()

    def __call__(self, request: Request) -> Response:
        if request.get_json()["event"] == "succeeded" and not self.released.is_set():
            self.arrived.set()
            self.released.wait(timeout=60)
        return Response("", status=204)


def _events(provider: ProviderServer, deploy_id: str) -> dict[str, dict[str, Any]]:
    """The JSON webhook's events about the deploy as a receiver keeps them: by webhook-id (a
    report is sent at least once: a worker killed before it noted one as sent sends it again),
    in the order they first came."""
    kept: dict[str, dict[str, Any]] = {}
    for seen in provider.to(WEBHOOK):
        if seen.body["deploy"]["id"] == deploy_id:
            headers = {name.lower(): value for name, value in seen.headers.items()}
            kept.setdefault(headers["webhook-id"], seen.body)
    return kept


def test_worker_killed_while_the_old_api_drains_after_success(
    proxied: ProxiedApp,
    redis_url: str,
    redis_conn: redis.Redis,
    provider: ProviderServer,
    tmp_path: Path,
) -> None:
    """SIGKILL inside a success's drain, while the worker reports `succeeded`: the record
    stays succeeded, the new version serves throughout, the next worker start removes the old
    api once its drain is over and reports `succeeded` at once, and the next push deploys."""
    config = _config(proxied, tmp_path / "state", redis_url, provider, DRAIN)
    config_file = write_config(config, tmp_path / "c.yml")
    settings = Settings.model_validate(config)
    store = DeployStore(redis_conn)
    (old,) = proxied.containers_of("api")
    sha = proxied.commit({"VERSION": "drain-a\n"}, "Drain drill A")
    held = HeldSuccess()
    provider.script(WEBHOOK, *[held] * 50)
    with Load(proxied.api_port) as load:
        queued = push(redis_conn, settings, sha)
        worker = start_worker_process(config_file, tmp_path / "w1.log")
        try:
            wait_for(lambda: _draining(store, queued.id), 240, "the old api to drain")
            wait_for(held.arrived.is_set, 30, "the worker to report `succeeded`")
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            held.released.set()
        killed = store.get(queued.id)
        assert killed.state == "succeeded", killed.error
        assert list(killed.draining) == [old], killed.draining
        # Out of the name, still running: it serves nothing new.
        assert _exists(proxied, old) and "api" not in _aliases(proxied, old).split()
        drills.heartbeat_runs_out(store, queued.id)
        starting = time.monotonic()
        recovery = start_worker_process(config_file, tmp_path / "w2.log")
        assert recovery.wait(timeout=300) == 0, (tmp_path / "w2.log").read_text()[-3000:]
        recovered, recovered_wall = time.monotonic(), time.time()
        time.sleep(1.0)
    record = store.get(queued.id)
    assert record.state == "succeeded" and record.error is None
    assert (record.finished_at, record.draining, record.warnings) == (killed.finished_at, {}, [])
    assert not _exists(proxied, old)
    assert recovered_wall >= _unix(killed.draining[old])  # only once its drain was over
    assert drills.log_mentions(store, queued.id, "were left draining: its worker stopped")
    assert current_owner(redis_conn, record.target) is None
    assert load.failed == [], f"{len(load.failed)} of {load.sent} failed: {load.failed[:5]}"
    after = [body for at, body in load.answers if at > recovered]
    assert after and set(after) == {"drain-a"}, set(after)
    assert load.bodies.get("drain-a", 0) > 100
    # The dead worker's reporting lock would hold for lock_ms (32 s here): the recovery broke
    # it (its holder is provably dead) and reported `succeeded` again before it exited.
    assert not unreported(redis_conn, queued.id)
    sent = [seen.at for seen in provider.to(WEBHOOK) if seen.body["event"] == "succeeded"]
    assert [at for at in sent if starting < at < recovered], (starting, sent, recovered)
    assert "broke the reporting lock of pid" in (tmp_path / "w2.log").read_text()
    events = [event["event"] for event in _events(provider, queued.id).values()]
    assert events.count("succeeded") == 1 and events[-1] == "succeeded", events
    # The next push deploys: the lock is free. A short drain: this deploy proves only that.
    config["projects"]["sample"]["environments"]["dev"]["zero_downtime_drain"] = 1
    settings = Settings.model_validate(config)
    queued = push(redis_conn, settings, proxied.commit({"VERSION": "drain-b\n"}, "Drain B"))
    work(settings, redis_conn)
    assert store.get(queued.id).state == "succeeded", store.get(queued.id).error
    assert proxied.running_version() == "drain-b"


def test_next_deploy_snapshot_ends_the_drain_a_dead_worker_left(
    proxied: ProxiedApp,
    busybox_image: str,
    redis_url: str,
    redis_conn: redis.Redis,
    provider: ProviderServer,
    tmp_path: Path,
) -> None:
    """A finished deploy still lists old containers as draining (its worker died, no worker
    start since): the next deploy's snapshot removes the one out of the service's name before
    it records what runs, and leaves the one in the name (it serves)."""
    settings = Settings.model_validate(
        _config(proxied, tmp_path / "state", redis_url, provider, DRAIN)
    )
    store = DeployStore(redis_conn)
    (serving,) = proxied.containers_of("api")
    labels = [f"com.docker.compose.project={proxied.project}", "com.docker.compose.service=api"]
    stray = run(
        ["docker", "run", "--detach", "--stop-timeout", "1", "--network", "none",
         *(f"--label={label}" for label in labels), busybox_image, "sleep", "600"],
        env=proxied.engine.env,
    ).stdout.strip()  # fmt: skip
    left = _finished_deploy(store, {stray: utcnow(), serving: utcnow()})
    record = store.get(new_deploy(store).id)
    ctx = new_context(record, settings, store, DeployLog(store, record.id))
    try:
        take_snapshot(ctx)
    finally:
        ctx.close()
    assert not _exists(proxied, stray) and proxied.containers_of("api") == [serving]
    assert ctx.previous_images["api"] == proxied.image_ids()["api"]
    amended = store.get(left.id)
    assert (amended.state, amended.draining, amended.warnings) == ("succeeded", {}, [])
    assert drills.log_mentions(store, record.id, "in the service's name again (it serves)")
    assert drills.log_mentions(store, left.id, f"the old container {stray[:12]} stopped")


def test_an_old_container_that_cannot_be_retired_is_a_reported_warning(
    proxied: ProxiedApp,
    redis_url: str,
    redis_conn: redis.Redis,
    provider: ProviderServer,
    tmp_path: Path,
) -> None:
    """The old api vanishes mid-drain (its `docker stop` then fails): the deploy stays
    succeeded, the record carries the warning, the status page shows it, and the JSON webhook
    gets it as a follow-up report after the success, under its own message id."""
    config = _config(proxied, tmp_path / "state", redis_url, provider, 4)
    config_file = write_config(config, tmp_path / "c.yml")
    settings = Settings.model_validate(config)
    store = DeployStore(redis_conn)
    (old,) = proxied.containers_of("api")
    queued = push(redis_conn, settings, proxied.commit({"VERSION": "drain-c\n"}, "Drain C"))
    worker = start_worker_process(config_file, tmp_path / "w.log")
    try:
        wait_for(lambda: _draining(store, queued.id), 240, "the old api to drain")
        run(["docker", "rm", "--force", old], env=proxied.engine.env)  # a hand, mid-drain
    finally:
        assert worker.wait(timeout=120) == 0, (tmp_path / "w.log").read_text()[-3000:]
    record = store.get(queued.id)
    assert record.state == "succeeded" and record.error is None, record.error
    (warning,) = record.warnings
    assert f"retiring the old container(s) {old[:12]} failed" in warning, warning
    assert "No such container" in warning, warning
    page = status_app(redis_conn, with_test_users(settings)).test_client()
    html = page.get(f"/deploys/{queued.id}").get_data(as_text=True)
    assert "Warnings" in html and f"retiring the old container(s) {old[:12]} failed" in html
    # A receiver that drops duplicates by webhook-id still gets the follow-up.
    finals = [e for e in _events(provider, queued.id).values() if e["event"] == "succeeded"]
    assert [event["deploy"]["warnings"] for event in finals] == [[], [warning]], finals
    assert proxied.running_version() == "drain-c"
