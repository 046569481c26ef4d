"""Swarm environments without an engine: argv builders, refusals, override, the watch's judge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError, parse_settings
from jobs.doctor.swarm import judge_manager, judge_nodes, judge_placement
from jobs.execution.context import command_environ
from jobs.failures.errors import StageFailed
from jobs.swarm import commands
from jobs.swarm.cleanup import referenced, unused
from jobs.swarm.database import DatabaseTask, engine_for
from jobs.swarm.model import StackFile, parse_stack
from jobs.swarm.policy import names_a_registry, refusals
from jobs.swarm.render import content_name, content_names, override
from jobs.swarm.tasks import ServiceState, TaskState, placement
from jobs.swarm.watch import judge
from webhook.cli import main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            commands.push("r:5000/app:deployhook-abc"),
            ["docker", "push", "--quiet", "--", "r:5000/app:deployhook-abc"],
        ),
        (
            commands.stack_deploy("crm", ["/srv/crm/stack.yml", "/var/lib/o.json"]),
            ["docker", "stack", "deploy", "--with-registry-auth", "--resolve-image", "changed",
             "--compose-file", "/srv/crm/stack.yml", "--compose-file", "/var/lib/o.json", "crm"],
        ),
        (
            commands.stack_deploy("crm", ["a.yml"], prune=True),
            ["docker", "stack", "deploy", "--with-registry-auth", "--resolve-image", "changed",
             "--compose-file", "a.yml", "--prune", "crm"],
        ),
        (
            commands.create_task(
                "crm_migrate_ab12", "r/app@sha256:1", ["alembic", "upgrade", "head"],
                networks=["crm_default"], env_file="/run/dh/env",
                labels={"dh.deploy": "d-1"},
            ),
            ["docker", "service", "create", "--detach", "--quiet", "--name", "crm_migrate_ab12",
             "--restart-condition", "none", "--replicas", "1", "--network", "crm_default",
             "--env-file", "/run/dh/env", "--label", "dh.deploy=d-1",
             "--with-registry-auth", "--", "r/app@sha256:1", "alembic", "upgrade", "head"],
        ),
        (
            commands.task_logs("crm_migrate_ab12"),
            ["docker", "service", "logs", "--raw", "--no-trunc", "crm_migrate_ab12"],
        ),
        (commands.remove_task("crm_migrate_ab12"), ["docker", "service", "rm", "crm_migrate_ab12"]),
        (
            commands.exec_in(None, "a" * 64, ["pg_dump", "--format=custom"]),
            ["docker", "exec", "-i", "a" * 64, "pg_dump", "--format=custom"],
        ),
        (
            commands.exec_in("ssh://deploy@db1", "b" * 12, ["psql"], ["-e", "PGOPTIONS=-c x"]),
            ["docker", "--host", "ssh://deploy@db1", "exec", "-i", "-e", "PGOPTIONS=-c x",
             "b" * 12, "psql"],
        ),
        (commands.remove_file("config", "crm_motd_0123456789ab"),
         ["docker", "config", "rm", "crm_motd_0123456789ab"]),
        (commands.remove_file("secret", "crm_key_0123456789ab"),
         ["docker", "secret", "rm", "crm_key_0123456789ab"]),
        (
            commands.scale_to_zero(["crm_worker", "crm_api"]),
            ["docker", "service", "scale", "--detach=false", "crm_worker=0", "crm_api=0"],
        ),
    ],
)  # fmt: skip
def test_swarm_commands_are_exact(argv: list[str], expected: list[str]) -> None:
    """Each swarm command builder yields exactly this argv."""
    assert argv == expected


@pytest.mark.parametrize("bad", ["-rf", "Crm", "a b", "x;y", ""])
def test_stack_names_are_checked_before_use(bad: str) -> None:
    """A stack name that could read as an option or is not a name is refused, not run."""
    with pytest.raises(ValueError, match="stack name"):
        commands.stack_deploy(bad, ["a.yml"])


def _service(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "image": "reg.example.com/web:1",
        "build": {"context": "."},
        "healthcheck": {"test": ["CMD", "true"]},
        "deploy": {"update_config": {"order": "start-first"}},
    }
    base.update(spec)
    return base


def _stack(**services: dict[str, Any]) -> Any:
    return parse_stack({"name": "crm", "services": services})


@pytest.mark.parametrize(
    ("web", "reasons"),
    [
        (_service(), []),
        (_service(healthcheck=None), ["has no healthcheck"]),
        (_service(healthcheck={"test": ["NONE"]}), ["has no healthcheck"]),
        (_service(deploy={}), ["order: stop-first (Swarm's default)"]),
        (_service(deploy={"update_config": {"order": "stop-first"}}), ["order: stop-first"]),
        (
            _service(
                deploy={"update_config": {"order": "start-first", "failure_action": "continue"}}
            ),
            ["failure_action: continue"],
        ),
        (
            _service(ports=[{"target": 80, "published": "8080", "mode": "host"}]),
            ["publishes port 8080 in host mode"],
        ),
        (_service(image="web:1"), ["names no registry"]),
    ],
)  # fmt: skip
def test_refusals_name_each_unsafe_setting(web: dict[str, Any], reasons: list[str]) -> None:
    """A served service without healthcheck, start-first, or a registry image is refused."""
    found = refusals(_stack(web=web), ["web"])
    assert len(found) == len(reasons), found
    for line, reason in zip(found, reasons, strict=True):
        assert reason in line


def test_refusals_name_a_missing_served_service_and_an_unpinned_database() -> None:
    """A served name not in the files, and a database without a placement constraint, whether
    it names a volume or keeps its data in the image's own (a new one on every node)."""
    db = {"image": "postgres:16", "volumes": [{"type": "volume", "source": "pg", "target": "/d"}]}
    found = refusals(_stack(web=_service(), db=db), ["api"], database="db")
    assert "service api is not in the Compose files (db, web)" in found[0]
    assert "database service db keeps its data in a volume (pg)" in found[1]
    bare = refusals(_stack(db={"image": "postgres:16"}), [], database="db")
    assert len(bare) == 1 and "db keeps its data in its container" in bare[0], bare
    loose = {**db, "deploy": {"placement": {"constraints": ["node.role != manager"]}}}
    assert "no placement constraint pins it" in refusals(_stack(db=loose), [], database="db")[0]
    pinned = {**db, "deploy": {"placement": {"constraints": ["node.hostname == db1"]}}}
    assert refusals(_stack(web=_service(), db=pinned), [], database="db") == []
    both = {**pinned, "deploy": {**pinned["deploy"], "update_config": {"order": "start-first"}}}
    assert "two PostgreSQL servers" in refusals(_stack(db=both), [], database="db")[0]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("registry.example.com/app", True), ("127.0.0.1:5000/app:1", True),
        ("localhost/app", True), ("acme/app", False), ("app", False), (None, False),
    ],
)  # fmt: skip
def test_names_a_registry(image: str | None, expected: bool) -> None:
    """Only an image whose first part is a host (dot, port or localhost) names a registry."""
    assert names_a_registry(image) is expected


def test_compose_given_config_names_are_not_taken_for_the_users() -> None:
    """Compose prints `<project>_<key>` for every config; only another name is the user's own."""
    stack = parse_stack(
        {
            "name": "crm",
            "configs": {
                "a": {"name": "crm_a", "file": "/c/a"},
                "b": {"name": "fixed-b", "file": "/c/b"},
                "c": {"name": "crm_c", "external": True},
            },
        }
    )
    assert stack.configs == (StackFile("a", Path("/c/a")), StackFile("b", Path("/c/b"), "fixed-b"))


def test_content_names_follow_the_content_and_key_secrets(tmp_path: Path) -> None:
    """Same content, same name; new content, new name; a secret's hash is keyed."""
    first = content_name("crm", "motd", b"hello")
    assert first == content_name("crm", "motd", b"hello") != content_name("crm", "motd", b"bye")
    assert first.startswith("crm_motd_") and len(first) == len("crm_motd_") + 12
    assert content_name("crm", "k", b"pw", b"key1") != content_name("crm", "k", b"pw", b"key2")
    assert len(content_name("s" * 40, "k" * 40, b"x")) == 64
    (tmp_path / "a").write_text("one")
    named = content_names(
        "crm", (StackFile("a", tmp_path / "a"), StackFile("b", tmp_path / "b", "b1"))
    )
    assert list(named) == ["a"] and named["a"][1] == str(tmp_path / "a")


def test_override_names_digests_and_whole_configs() -> None:
    """The override carries the version, each image by digest, each config whole with its name."""
    document = override("3.8", {"web": "r/web@sha256:1"}, {"motd": ("crm_motd_1", "/c/m")}, {})
    assert document == {
        "version": "3.8",
        "services": {"web": {"image": "r/web@sha256:1"}},
        "configs": {"motd": {"name": "crm_motd_1", "file": "/c/m"}},
    }
    assert override(None, {}, {}, {}) == {}


def _state(
    update: str | None, started: str | None, tasks: list[TaskState], replicas: int = 2
) -> ServiceState:
    return ServiceState("web", "img2", replicas, update, started, "why", tuple(tasks))


RUN2 = TaskState("n1 (a)", "running", "running", "img2")
RUN1 = TaskState("n2 (b)", "running", "running", "img1")
FAILED = TaskState("n3 (c)", "failed", "shutdown", "img2", "task: non-zero exit (137)")


@pytest.mark.parametrize(
    ("state", "done", "failed"),
    [
        (_state("completed", "t2", [RUN2, RUN2]), True, False),
        (_state(None, None, [RUN2, RUN2]), True, False),  # created: no update status yet
        (_state("updating", "t2", [RUN2, RUN1]), False, False),
        (_state("completed", "t1", [RUN1, RUN1]), False, False),  # the update has not begun
        (_state("completed", "t2", [RUN2]), False, False),  # one replica short
        (_state("paused", "t2", [RUN2, RUN1, FAILED]), False, True),
        (_state("rollback_started", "t2", [RUN1, RUN1]), False, True),
        (_state("rollback_completed", "t2", [RUN1, RUN1]), False, True),
        (_state("rollback_completed", "t1", [RUN2, RUN2]), True, False),  # an earlier update's
    ],
)  # fmt: skip
def test_judge_fails_on_rollback_or_pause_and_waits_for_every_task(
    state: ServiceState, done: bool, failed: bool
) -> None:
    """Converged only with every wanted task on the spec's image; this update's rollback fails."""
    verdict = judge({"web": "t1"}, [state])
    assert verdict.done is done and bool(verdict.failures) is failed, verdict


def test_a_rollback_still_running_is_a_failure_the_watch_lets_settle() -> None:
    """rollback_started fails the update and marks it settling (the revert waits for Swarm's
    rollback to end); rollback_completed fails without settling."""
    settling = judge({"web": "t1"}, [_state("rollback_started", "t2", [RUN1, RUN2])])
    assert settling.failures and settling.settling  # failed; the watch waits for Swarm to end it
    assert not judge({"web": "t1"}, [_state("rollback_completed", "t2", [RUN1])]).settling


def test_a_failure_names_the_task_errors_and_placement_names_the_nodes() -> None:
    """The failure says why a task died and where; placement says where each task runs."""
    verdict = judge({"web": "t1"}, [_state("paused", "t2", [RUN2, FAILED])])
    assert verdict.failures == [
        "web: update paused (why); task errors: n3 (c): task: non-zero exit (137)"
    ]
    assert (
        placement([_state("completed", "t2", [RUN2, RUN1, FAILED])])
        == "web: 2 running on n1 (a), n2 (b)"
    )


BASE_ENV = """
projects:
  crm:
    repo: github.com/acme/crm
    provider: github
    secret: s3cret-for-the-tests
    environments:
      prod:
        trigger: {branch: main}
        path: /srv/crm
        compose: {files: [stack.yml], project: crm}
        health: {url: "http://127.0.0.1:8000/"}
"""


def _settings(extra: str) -> Any:
    return parse_settings(
        BASE_ENV + "".join(f"        {line}\n" for line in extra.splitlines()), "t.yml", {}
    )


def test_swarm_config_defaults_to_migrating_before_the_swap() -> None:
    """On a swarm `migrate.when` defaults to before_swap; on Compose it stays after_swap."""
    swarm = _settings("engine: swarm\nmigrate: {service: api}").environment("crm", "prod")
    assert swarm.migrate.when == "before_swap" and swarm.swarm_settings.update_timeout == 600
    compose = _settings("migrate: {service: api}").environment("crm", "prod")
    assert compose.migrate.when == "after_swap"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "docker_host: tcp://mgr:2376",
            "environments.prod: docker_host at tcp:// needs docker_tls.cert_path",
        ),
        ("docker_tls: {cert_path: /c}", "docker_tls is only for a docker_host at tcp://"),
        ("swarm: {update_timeout: 60}", "swarm settings need engine: swarm"),
        ("engine: swarm\nswarm: {update_timeout: 0}", "swarm.update_timeout"),
        ("engine: kubernetes", "engine"),
        (
            "engine: swarm\nmigrate: {rehearse: true}",
            "migrate.rehearse needs database.service",
        ),
        (
            "engine: swarm\nswarm: {nodes: {db1: 'tcp://db1:2376'}}",
            "swarm.nodes db1 at tcp:// need the manager at tcp:// with docker_tls",
        ),
        ("engine: swarm\nswarm: {nodes: {db1: 'http://db1'}}", "swarm.nodes.db1"),
    ],
)  # fmt: skip
def test_swarm_config_errors_name_their_path(extra: str, message: str) -> None:
    """Each swarm config mistake is refused at start-up with its key path."""
    with pytest.raises(ConfigError) as caught:
        _settings(extra)
    assert message in str(caught.value)


def test_swarm_config_takes_the_database_as_a_service_of_the_stack() -> None:
    """database.service, migrate.rehearse and the database node's engine are accepted."""
    environment = _settings(
        "engine: swarm\ndatabase: {service: db, name: crm}\n"
        "migrate: {service: api, rehearse: true}\n"
        "swarm: {nodes: {db1: 'ssh://deploy@db1.internal'}}"
    ).environment("crm", "prod")
    assert environment.database.service == "db" and environment.migrate.rehearse is not None
    assert environment.swarm_settings.nodes == {"db1": "ssh://deploy@db1.internal"}


def test_a_tcp_manager_gets_tls_in_every_command() -> None:
    """docker_host at tcp:// with docker_tls: commands verify the daemon with those certificates."""
    environment = _settings(
        "engine: swarm\ndocker_host: tcp://mgr.example.com:2376\n"
        "docker_tls: {cert_path: /etc/dh/tls}"
    ).environment("crm", "prod")
    environ = command_environ(environment, [])
    assert environ["DOCKER_HOST"] == "tcp://mgr.example.com:2376"
    assert environ["DOCKER_TLS_VERIFY"] == "1" and environ["DOCKER_CERT_PATH"] == "/etc/dh/tls"


def test_check_config_refuses_an_unsafe_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config reads a swarm checkout's files: stop-first and no healthcheck are refused."""
    checkout = tmp_path / "crm"
    checkout.mkdir()
    web: dict[str, Any] = {"image": "reg.example.com/web:1", "build": {"context": "."}}
    (checkout / "stack.yml").write_text(yaml.safe_dump({"services": {"web": web}}))
    config = tmp_path / "deployhook.yml"
    config.write_text(
        BASE_ENV.replace("/srv/crm", str(checkout))
        + "        engine: swarm\n        zero_downtime: [web]\n"
    )
    assert main(["check-config", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    where = "projects/crm/environments/prod: zero_downtime: service web"
    assert f"{where} has no healthcheck" in err
    assert f"{where} updates with order: stop-first (Swarm's default)" in err
    web["healthcheck"] = {"test": ["CMD", "true"]}
    web["deploy"] = {"update_config": {"order": "start-first"}}
    (checkout / "stack.yml").write_text(yaml.safe_dump({"services": {"web": web}}))
    assert main(["check-config", "--config", str(config)]) == 0


def test_check_config_says_when_the_database_service_is_not_pinned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config with database.service on a swarm: an unpinned database is refused with the
    constraint to add; pinned, the configuration passes."""
    checkout = tmp_path / "crm"
    checkout.mkdir()
    db: dict[str, Any] = {"image": "postgres:16"}
    (checkout / "stack.yml").write_text(yaml.safe_dump({"services": {"db": db}}))
    config = tmp_path / "deployhook.yml"
    config.write_text(
        BASE_ENV.replace("/srv/crm", str(checkout))
        + "        engine: swarm\n        database: {service: db, name: crm}\n"
    )
    assert main(["check-config", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "projects/crm/environments/prod: database service db keeps its data" in err
    assert 'add deploy.placement.constraints: ["node.hostname == DBHOST"]' in err
    db["deploy"] = {"placement": {"constraints": ["node.hostname == db1"]}}
    (checkout / "stack.yml").write_text(yaml.safe_dump({"services": {"db": db}}))
    assert main(["check-config", "--config", str(config)]) == 0


@pytest.mark.parametrize(
    ("swarm", "status", "words"),
    [
        ({"LocalNodeState": "inactive"}, "fail", "not in a swarm"),
        ({"LocalNodeState": "active", "ControlAvailable": False}, "fail", "a worker node"),
        ({"LocalNodeState": "active", "ControlAvailable": True, "Nodes": 3, "Managers": 1},
         "warn", "losing one manager stops deploys"),
        ({"LocalNodeState": "active", "ControlAvailable": True, "Nodes": 5, "Managers": 3},
         "ok", "a manager answers (5 nodes, 3 managers)"),
    ],
)  # fmt: skip
def test_doctor_judges_the_manager(swarm: dict[str, Any], status: str, words: str) -> None:
    """Not in a swarm or a worker fails; one or two managers warn; three are fine."""
    finding = judge_manager(swarm)
    assert finding.status == status and words in finding.detail, finding


def _node(state: str, availability: str) -> dict[str, Any]:
    return {
        "ID": "abcdefghijkl",
        "Description": {"Hostname": "db1"},
        "Status": {"State": state},
        "Spec": {"Availability": availability},
    }


def test_doctor_names_nodes_not_ready_and_volumes_not_pinned() -> None:
    """A down or drained node is named; a service with a volume but no constraint fails."""
    assert judge_nodes([_node("ready", "active")]).status == "ok"
    finding = judge_nodes([_node("ready", "active"), _node("down", "active")])
    assert finding.status == "warn" and "db1 (abcdefghij) down/active" in finding.detail
    volume = [{"type": "volume", "source": "pg", "target": "/d"}]
    floating = _stack(db={"image": "postgres:16", "volumes": volume})
    assert "float between nodes: db" in judge_placement(floating).detail
    constraints = {"placement": {"constraints": ["node.labels.db == true"]}}
    pinned = _stack(db={"image": "postgres:16", "volumes": volume, "deploy": constraints})
    assert judge_placement(pinned).status == "ok"


def test_doctor_says_where_the_database_is_pinned_or_that_it_is_not() -> None:
    """The database service fails placement when unpinned even without a volume; pinned, the
    finding names its constraint."""
    bare = judge_placement(_stack(db={"image": "postgres:16"}), "db")
    assert bare.status == "fail" and "the database service db is not pinned" in bare.detail
    constraints = {"placement": {"constraints": ["node.hostname == db1"]}}
    pinned = judge_placement(_stack(db={"image": "postgres:16", "deploy": constraints}), "db")
    assert pinned.status == "ok" and "the database db by node.hostname == db1" in pinned.detail


TASK = DatabaseTask(node_id="n3id", hostname="db1", container="c" * 64, label="db1 (n3id)")


@pytest.mark.parametrize(
    ("manager_id", "nodes", "hostnames", "expected"),
    [
        ("n3id", {}, ["db1"], "ssh://mgr"),  # the task runs on the manager: its engine
        ("n1id", {"n3id": "unix:///n3.sock"}, ["mgr", "db1"], "unix:///n3.sock"),  # by ID
        ("n1id", {"db1": "ssh://deploy@db1"}, ["mgr", "db1"], "ssh://deploy@db1"),  # hostname
        ("n1id", {"db1": "ssh://a", "n3id": "ssh://b"}, ["mgr", "db1"], "ssh://b"),  # ID first
    ],
)  # fmt: skip
def test_the_database_node_engine(
    manager_id: str, nodes: dict[str, str], hostnames: list[str], expected: str
) -> None:
    """The engine that reaches the database task's node: the manager's, or swarm.nodes'."""
    assert engine_for(TASK, manager_id, "ssh://mgr", nodes, hostnames) == expected


@pytest.mark.parametrize(
    ("nodes", "hostnames", "words"),
    [
        ({}, ["mgr", "db1"], "add swarm.nodes: {db1: ssh://USER@HOST}"),
        ({"db1": "ssh://a"}, ["db1", "db1"], "shared by 2 nodes); add swarm.nodes: {n3id:"),
    ],
)
def test_a_database_node_without_an_engine_is_refused_with_the_line_to_add(
    nodes: dict[str, str], hostnames: list[str], words: str
) -> None:
    """No engine known for the node (or only by a hostname two nodes share): the stage fails
    naming the node and the key to add; nothing is guessed."""
    with pytest.raises(StageFailed) as caught:
        engine_for(TASK, "n1id", "ssh://mgr", nodes, hostnames)
    assert "runs on node db1 (n3id)" in str(caught.value) and words in str(caught.value)


def _spec(*configs: str) -> dict[str, Any]:
    items = [{"ConfigName": name} for name in configs]
    return {"TaskTemplate": {"ContainerSpec": {"Configs": items}}}


def test_old_content_names_are_unused_unless_a_current_or_previous_spec_names_them() -> None:
    """Only this stack's content names (`<stack>_<key>_<hash12>`) that neither the current nor
    the previous specs refer to are removed; a user's own names and other stacks' never."""
    services = [
        {"Spec": _spec("crm_motd_cccccccccccc"), "PreviousSpec": _spec("crm_motd_bbbbbbbbbbbb")},
        {"Spec": _spec("crm_caddyfile_111111111111", "my-own-config")},
    ]
    names = referenced(services, "Configs", "ConfigName")
    existing = [
        "crm_motd_aaaaaaaaaaaa", "crm_motd_bbbbbbbbbbbb", "crm_motd_cccccccccccc",
        "crm_caddyfile_111111111111", "crm_caddyfile_000000000000", "my-own-config",
        "crm_motd", "crm2_motd_aaaaaaaaaaaa", "crm_motd_AAAAAAAAAAAA",
    ]  # fmt: skip
    assert unused("crm", existing, names) == ["crm_caddyfile_000000000000", "crm_motd_aaaaaaaaaaaa"]


def test_a_database_container_id_is_checked() -> None:
    """`docker exec` takes only a container id (hex), never a name or an option."""
    with pytest.raises(ValueError, match="container id"):
        commands.exec_in(None, "--privileged", ["sh"])
