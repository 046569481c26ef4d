"""A swarm reached as a real one is: its manager over ssh:// and over tcp:// with TLS, and the
database's node named in swarm.nodes by its hostname.

One bed for the module: every engine also answers on its address at 2376 with --tlsverify (the
bed's own CA, client certificates required), and each node has a hostname of its own. A real
sshd runs in the manager's network namespace and another in node 3's (PostgreSQL is pinned to
node 3), each reached through a loopback forward, key auth, its host key pinned in known_hosts.
The worker's `ssh` notes every session it opens and the TLS forwards count their connections,
so the tests see what went which way. The tests build on each other in order, one deploy each.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
import redis

from config import Settings
from jobs.doctor import examine
from jobs.state.records import Deploy, DeployStore
from tests.support import git_repo
from tests.support.deploying import config_for, deploy
from tests.support.docker_engine import Engine
from tests.support.failures import assert_cause
from tests.support.sshd import Inside, Session, Sshd, environ_with, running_sshd
from tests.support.swarm_app import FIRST_MIGRATION, MIGRATE_COMMAND, SwarmApp
from tests.support.swarm_bed import TLS_PORT, SwarmBed, SwarmNode, running_swarm
from tests.support.swarm_monitor import monitor_for_a_second
from tests.support.swarm_writer import run_psql

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def bed(docker_engine: Engine) -> Iterator[SwarmBed]:
    """Three nodes with hostnames of their own, every engine also behind TLS."""
    with running_swarm(tls=True, own_hostnames=True) as swarm:
        yield swarm


@pytest.fixture(scope="module")
def app(bed: SwarmBed, docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> SwarmApp:
    """The swarm app with PostgreSQL in the stack, pinned to node 3; nothing deployed yet."""
    root = tmp_path_factory.mktemp("swarm-remote-app")
    app = SwarmApp.create(bed, docker_engine, root, database=True, database_node=3)
    run_psql(app, FIRST_MIGRATION)  # the schema the releases' migration keeps: no restores
    monitor_for_a_second(app)  # Swarm's 5 s after each update: 1 s
    return app


@dataclass(frozen=True)
class Remote:
    manager: Sshd
    database_node: Sshd


@pytest.fixture(scope="module")
def sshds(app: SwarmApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    """sshd in the manager's namespace and in node 3's; their sessions reach that node's engine."""
    bed, directory = app.bed, tmp_path_factory.mktemp("sshd")

    def inside(node: SwarmNode) -> Inside:
        return Inside(node.namespace, node.address, partial(bed.forward, node))

    node = _database_node(app)
    with (
        running_sshd(directory, bed.manager.host, inside(bed.manager), multiplexed=True) as manager,
        running_sshd(directory, node.host, inside(node), multiplexed=True) as database_node,
    ):
        yield Remote(manager, database_node)


@dataclass(frozen=True)
class TlsHosts:
    manager: str
    database_node: str
    manager_port: int


@pytest.fixture(scope="module")
def tls_hosts(app: SwarmApp) -> TlsHosts:
    """tcp:// of the manager's and node 3's TLS ports, through counted loopback forwards."""
    manager = app.bed.forward(app.bed.manager, TLS_PORT, counted=True)
    node = app.bed.forward(_database_node(app), TLS_PORT)
    return TlsHosts(f"tcp://127.0.0.1:{manager}", f"tcp://127.0.0.1:{node}", manager)


def _database_node(app: SwarmApp) -> SwarmNode:
    assert app.database_node is not None
    return app.database_node


def _environment(app: SwarmApp, manager: str, node: str, **more: Any) -> dict[str, Any]:
    """The stack with its database as service `db`, swarm.nodes naming node 3 by hostname."""
    hostname = _database_node(app).hostname
    return app.environment_config(
        docker_host=manager,
        database={"service": "db", "name": "app", "user": "postgres"},
        swarm={"update_timeout": 180, "nodes": {hostname: node}},
        **more,
    )


def _settings(
    environment: dict[str, Any], factory: pytest.TempPathFactory, redis_url: str
) -> Settings:
    state = factory.mktemp("swarm-remote-state")
    return Settings.model_validate(config_for(environment, state, redis_url))


@pytest.fixture(scope="module")
def tls_settings(
    app: SwarmApp, tls_hosts: TlsHosts, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Settings:
    assert app.bed.tls is not None
    tls = {"cert_path": str(app.bed.tls.client)}
    environment = _environment(app, tls_hosts.manager, tls_hosts.database_node, docker_tls=tls)
    return _settings(environment, tmp_path_factory, redis_url)


@pytest.fixture(scope="module")
def ssh_settings(
    app: SwarmApp, sshds: Remote, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Settings:
    """Over ssh, with a migration in every deploy (a one-off task the manager runs)."""
    migrate = {"service": "web", "command": MIGRATE_COMMAND, "version_query": None}
    environment = _environment(
        app, sshds.manager.docker_host, sshds.database_node.docker_host, migrate=migrate
    )
    return _settings(environment, tmp_path_factory, redis_url)


def _log(record: Deploy, redis_conn: redis.Redis) -> str:
    return "\n".join(DeployStore(redis_conn).log(record.id))


def _dumped_on_database_node(app: SwarmApp, log: str, engine: str) -> None:
    """pg_dump ran in the database task's container, on node 3's engine as swarm.nodes names it
    by hostname (the manager's engine has no such container)."""
    container = app.database_container()
    assert container, "no database container on node 3"
    assert f"--host {engine} exec -i {container} pg_dump" in log, log[-3000:]


def _head(app: SwarmApp) -> str:
    return git_repo.git(app.checkout, "rev-parse", "HEAD").strip()


def test_first_deploy_over_tls_by_digest_with_the_database_node_by_hostname(
    app: SwarmApp, tls_settings: Settings, tls_hosts: TlsHosts, redis_conn: redis.Redis
) -> None:
    """docker_host tcp:// with docker_tls: the first deploy goes to the manager's TLS port,
    deploys web by its registry digest, and backs up on node 3's TLS engine by hostname."""
    before = app.bed.connections(tls_hosts.manager_port)
    record = deploy(tls_settings, redis_conn, app.v1)
    assert record.state == "succeeded", record.error
    digest = record.image_digests["web"]
    assert digest.startswith(f"{app.bed.registry}/{app.stack}-web@sha256:"), digest
    assert app.service_images()["web"] == digest
    assert app.get("/version").strip() == "1"
    assert app.bed.connections(tls_hosts.manager_port) > before, "nothing reached the TLS port"
    _dumped_on_database_node(app, _log(record, redis_conn), tls_hosts.database_node)


def test_a_client_without_the_right_certificate_is_refused_and_nothing_changes(
    app: SwarmApp,
    tls_hosts: TlsHosts,
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    redis_conn: redis.Redis,
) -> None:
    """A client certificate the engines' CA never signed: the deploy fails before any change,
    naming the refusal, and doctor's docker check fails naming the certificates; the engine
    refuses a client with no certificate too."""
    bed = app.bed
    assert bed.tls is not None
    ca = str(bed.tls.client / "ca.pem")
    bare = ["docker", "--host", tls_hosts.manager, "--tlsverify", "--tlscacert", ca, "info"]
    refused = subprocess.run(bare, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode != 0 and "certificate" in refused.stderr, refused.stderr
    images, head = app.service_images(), _head(app)
    tls = {"cert_path": str(bed.tls.stranger)}
    environment = _environment(app, tls_hosts.manager, tls_hosts.database_node, docker_tls=tls)
    settings = _settings(environment, tmp_path_factory, redis_url)
    record = deploy(settings, redis_conn, app.release("never", motd="motd never"))
    assert record.state == "failed", record.error
    assert record.failed_stage == "snapshot", record.error
    assert_cause(
        record,
        f"the Docker engine at {tls_hosts.manager} refused this client's TLS certificate: sign "
        "docker_tls cert.pem with the engine's CA",
    )
    assert "nothing was changed" in (record.error or "")
    assert app.service_images() == images and _head(app) == head
    assert app.get("/version").strip() == "1"
    findings = {f.check: f for f in examine(settings, [settings.environment("sample", "dev")])}
    docker = findings["docker"]
    assert docker.status == "fail" and tls_hosts.manager in docker.detail, docker
    assert f"docker_tls.cert_path ({bed.tls.stranger}) must hold the ca.pem" in docker.fix, docker


@pytest.fixture
def ssh_worker(sshds: Remote, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's environment as docs/production.md sets it up: its ssh on PATH."""
    for name, value in environ_with(sshds.manager).items():
        monkeypatch.setenv(name, value)


def _never_healthy_is_reverted(
    app: SwarmApp, settings: Settings, redis_conn: redis.Redis, version: str
) -> Deploy:
    """Deploy a release that serves but never passes its healthcheck: reverted, web back on
    v1's digest and configs, v1 answering; the record."""
    images, configs = app.service_images(), app.config_names("web")
    files: dict[str, str | None] = {"web/www/version": f"{version}\n", "web/motd.txt": version}
    if (app.author / "web/www/healthz").exists():  # an earlier never-healthy release removed it
        files["web/www/healthz"] = None
    record = deploy(settings, redis_conn, app.commit(files, f"never healthy: {version}"))
    assert record.state == "reverted", record.error
    assert record.failed_stage == "swap", record.error
    assert_cause(record, "swarm update failed: ")
    assert app.service_images() == images and app.config_names("web") == configs
    assert app.get("/version").strip() == "1"
    return record


def test_never_healthy_release_over_tls_is_reverted(
    app: SwarmApp, tls_settings: Settings, tls_hosts: TlsHosts, redis_conn: redis.Redis
) -> None:
    """docker_host tcp:// with docker_tls: a release that never gets healthy is reverted, the
    watch and the revert's stack deploy going through the manager's TLS port."""
    before = app.bed.connections(tls_hosts.manager_port)
    record = _never_healthy_is_reverted(app, tls_settings, redis_conn, "bad over tls")
    assert app.bed.connections(tls_hosts.manager_port) > before, "nothing reached the TLS port"
    _dumped_on_database_node(app, _log(record, redis_conn), tls_hosts.database_node)


def _since(sshd: Sshd, mark: int) -> list[Session]:
    return sshd.sessions()[mark:]


def _by(sessions: list[Session], *commands: str) -> list[Session]:
    """The sessions a command starting with one of `commands` opened (`docker` by any path)."""

    def command(session: Session) -> str:
        first, _, rest = session.parent.partition(" ")
        return f"{first.rsplit('/', 1)[-1]} {rest}"

    return [s for s in sessions if command(s).startswith(commands)]


def test_never_healthy_release_over_ssh_is_reverted(
    app: SwarmApp, ssh_settings: Settings, sshds: Remote, ssh_worker: None, redis_conn: redis.Redis
) -> None:
    """docker_host ssh://: a release that never gets healthy is reverted to v1's digest, and
    the stack deploys, the watch and the database's dump all went over the two sshds."""
    marks = len(sshds.manager.sessions()), len(sshds.database_node.sessions())
    record = _never_healthy_is_reverted(app, ssh_settings, redis_conn, "bad")
    to_manager = _since(sshds.manager, marks[0])
    deploys = _by(to_manager, "docker stack deploy")
    assert len(deploys) >= 2, to_manager  # the release's, and the revert's
    assert _by(to_manager, "docker service create"), to_manager  # the migration's task
    assert [s for s in to_manager if "python" in s.parent], to_manager  # the SDK's reads
    to_node = _since(sshds.database_node, marks[1])
    assert _by(to_node, f"docker --host {sshds.database_node.docker_host} exec -i"), to_node
    _dumped_on_database_node(app, _log(record, redis_conn), sshds.database_node.docker_host)


def test_good_release_over_ssh_succeeds_by_digest_and_removes_old_configs(
    app: SwarmApp, ssh_settings: Settings, sshds: Remote, ssh_worker: None, redis_conn: redis.Redis
) -> None:
    """docker_host ssh://: a good release deploys by digest, and the old configs' cleanup, the
    migration task and the database's dump on node 3 (named by hostname) went over ssh."""
    mark = len(sshds.manager.sessions())
    record = deploy(ssh_settings, redis_conn, app.release("2", motd="motd 2"))
    assert record.state == "succeeded", record.error
    digest = record.image_digests["web"]
    assert digest.startswith(f"{app.bed.registry}/{app.stack}-web@sha256:"), digest
    assert app.service_images()["web"] == digest
    assert app.get("/version").strip() == "2" and app.get("/motd").strip() == "motd 2"
    log = _log(record, redis_conn)
    assert "removed old configs and secrets: " in log
    to_manager = _since(sshds.manager, mark)
    assert _by(to_manager, "docker config rm"), to_manager
    assert _by(to_manager, "docker stack deploy"), to_manager
    assert _by(to_manager, "docker service logs", "docker service rm"), to_manager
    _dumped_on_database_node(app, log, sshds.database_node.docker_host)
