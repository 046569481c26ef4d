"""Deploys of a stack on a real three-node swarm, with a client polling through the proxy.

One bed and one app for the module; the tests build on each other in order: a first deploy
from nothing, a good release under load, a release that never gets healthy yet accepts
connections, a release whose cleanup removes the configs of the first and of the reverted one,
and last a node drained mid-deploy: that one may end either way, so no test relies on its
outcome. The client GETs /version through Caddy every 5 ms and records which release
answered each request.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis

from config import Settings
from jobs.doctor import examine
from jobs.swarm.render import content_name
from tests.support.deploying import config_for, deploy
from tests.support.failures import assert_cause
from tests.support.proxied_app import Load
from tests.support.swarm_app import CADDYFILE, SwarmApp
from tests.support.swarm_monitor import monitor_for_a_second

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def swarm_app(swarm_app: SwarmApp) -> SwarmApp:
    """The swarm app at v1, its updates monitored for 1 s (Swarm's 5 s waited out each one)."""
    monitor_for_a_second(swarm_app)
    return swarm_app


@pytest.fixture(scope="module")
def settings(
    swarm_app: SwarmApp, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Settings:
    state = tmp_path_factory.mktemp("swarm-state")
    return Settings.model_validate(config_for(swarm_app.environment_config(), state, redis_url))


def _none_failed(load: Load) -> None:
    assert load.failed == [], f"{len(load.failed)} of {load.sent} failed: {load.failed[:5]}"


def _polling(app: SwarmApp) -> Load:
    """GET /version through the proxy every 5 ms; a slow answer (the machine may be loaded)
    is not a failed one, so the client waits up to 30 s."""
    return Load(app.proxy_port, path="/version", timeout=30.0)


def _log(record: Any, redis_conn: redis.Redis) -> str:
    from jobs.state.records import DeployStore

    return "\n".join(DeployStore(redis_conn).log(record.id))


def test_first_deploy_pushes_and_deploys_by_digest(
    swarm_app: SwarmApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """From nothing: web is built, pushed, deployed by its registry digest, and answers v1."""
    record = deploy(settings, redis_conn, swarm_app.v1)
    assert record.state == "succeeded", record.error
    digest = record.image_digests["web"]
    assert digest.startswith(f"{swarm_app.bed.registry}/{swarm_app.stack}-web@sha256:")
    assert swarm_app.service_images()["web"] == digest
    assert swarm_app.get("/version").strip() == "1"
    assert swarm_app.get("/motd").strip() == "motd 1"
    log = _log(record, redis_conn)
    assert "converged: " in log and "web: 2 running on " in log  # the nodes are named


def test_good_release_fails_no_request_and_renames_changed_configs(
    swarm_app: SwarmApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """v2 with a new motd: every request answered (by v1, then v2), the config gets a new name."""
    before = swarm_app.config_names("web")
    sha = swarm_app.release("2", motd="motd 2")
    with _polling(swarm_app) as load:
        record = deploy(settings, redis_conn, sha)
    assert record.state == "succeeded", record.error
    print(f"good release: {load.sent} requests, longest gap {load.longest_gap:.2f}s")
    _none_failed(load)
    assert set(load.bodies) <= {"1", "2"} and load.bodies.get("2", 0) > 0, load.bodies
    assert swarm_app.service_images()["web"] == record.image_digests["web"]
    assert swarm_app.get("/motd").strip() == "motd 2"
    after = swarm_app.config_names("web")
    assert after != before and all(name.startswith(f"{swarm_app.stack}_motd_") for name in after)


def test_never_healthy_release_is_reverted_without_a_failed_request(
    swarm_app: SwarmApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A release that serves but never passes its healthcheck: no request reaches it, the
    swarm's rollback is a failure, and the revert deploys v2's digests and configs again."""
    images = swarm_app.service_images()
    configs = swarm_app.config_names("web")
    sha = swarm_app.release("bad", healthy=False, motd="motd bad")
    with _polling(swarm_app) as load:
        record = deploy(settings, redis_conn, sha)
    assert record.state == "reverted", record.error
    assert record.failed_stage == "swap", record.error
    assert "rollback" in (record.error or "") or "paused" in (record.error or ""), record.error
    assert_cause(record, "swarm update failed: ")
    print(f"never healthy: {load.sent} requests, longest gap {load.longest_gap:.2f}s")
    _none_failed(load)
    assert set(load.bodies) == {"2"}, load.bodies
    assert swarm_app.service_images() == images
    assert swarm_app.config_names("web") == configs
    assert swarm_app.get("/motd").strip() == "motd 2"


def test_a_good_deploy_removes_configs_no_current_or_previous_spec_uses(
    swarm_app: SwarmApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """After a good deploy with a new motd: the motd configs of v1 and of the reverted release
    are removed; v2's (the previous spec's, a revert's) and the new one stay."""
    stack = swarm_app.stack

    def motd(text: str) -> str:
        return content_name(stack, "motd", f"{text}\n".encode())

    def config_names() -> set[str]:
        listing = swarm_app.bed.docker(
            swarm_app.bed.manager, "config", "ls", "--format", "{{.Name}}"
        )
        return set(listing.split())

    assert {motd("motd 1"), motd("motd 2"), motd("motd bad")} <= config_names()
    record = deploy(settings, redis_conn, swarm_app.release("4", motd="motd 4"))
    assert record.state == "succeeded", record.error
    left = config_names()
    assert motd("motd 1") not in left and motd("motd bad") not in left, left
    assert {motd("motd 2"), motd("motd 4")} <= left, left
    assert content_name(stack, "caddyfile", CADDYFILE.encode()) in left
    assert "removed old configs and secrets: " in _log(record, redis_conn)
    assert swarm_app.get("/motd").strip() == "motd 4"


def test_a_node_drained_mid_deploy_ends_whole_never_half_way(
    swarm_app: SwarmApp, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A worker node drained while the update runs: the deploy succeeds or ends reverted, and
    either way every web task runs one release (never some of each)."""
    bed = swarm_app.bed
    before = swarm_app.service_images()
    serving = swarm_app.get("/version").strip()
    sha = swarm_app.release("3")
    drained: list[str] = []

    def drain_when_updating() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = swarm_app.service_specs().get("web", {}).get("UpdateStatus") or {}
            if status.get("State") == "updating":
                node = bed.nodes[1]
                bed.docker(bed.manager, "node", "update", "--availability", "drain", node.node_id)
                drained.append(node.node_id)
                return
            time.sleep(0.2)

    drainer = threading.Thread(target=drain_when_updating, daemon=True)
    drainer.start()
    try:
        record = deploy(settings, redis_conn, sha)
        drainer.join(timeout=130)
    finally:
        bed.docker(bed.manager, "node", "update", "--availability", "active", bed.nodes[1].node_id)
    assert drained, "the update was never seen running: the node was not drained mid-deploy"
    assert record.state in ("succeeded", "reverted"), record.error
    images = swarm_app.service_images()
    expected = record.image_digests["web"] if record.state == "succeeded" else before["web"]
    assert images["web"] == expected
    tasks = bed.docker(
        bed.manager, "service", "ps", f"{swarm_app.stack}_web", "--filter", "desired-state=running",
        "--format", "{{.Image}} {{.CurrentState}}",
    ).splitlines()  # fmt: skip
    assert len(tasks) == 2 and all(line.startswith(expected) for line in tasks), tasks
    assert all(" Running" in f" {line}" for line in tasks), tasks
    version = swarm_app.get("/version").strip()
    assert version == ("3" if record.state == "succeeded" else serving), (record.state, version)


def test_doctor_checks_the_manager_nodes_registry_updates_and_placement(
    swarm_app: SwarmApp, settings: Settings
) -> None:
    """doctor on a swarm: the manager answers (one: a warning), nodes ready, the registry
    resolves and nodes pulled from it, served services start-first, volumes pinned."""
    findings = {f.check: f for f in examine(settings, [settings.environment("sample", "dev")])}
    assert findings["manager"].status == "warn", findings["manager"]
    assert "a manager answers (3 nodes, 1 managers)" in findings["manager"].detail
    assert findings["nodes"].status == "ok", findings["nodes"]
    assert findings["registry"].status in ("ok", "warn"), findings["registry"]
    assert "1 image(s) resolve; pulled by " in findings["registry"].detail
    assert findings["update"].status == "ok", findings["update"]
    assert findings["placement"].status == "ok", findings["placement"]
