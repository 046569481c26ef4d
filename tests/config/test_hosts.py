"""Several deploy hosts: a host per environment, its queue, and the Docker daemon it talks to."""

from __future__ import annotations

import pytest

from config import ConfigError, Settings, parse_settings
from jobs.execution.context import command_environ
from jobs.operations.targets import OperationError
from webhook.operator.processes import worker_queues

TWO_HOSTS = """
projects:
  crm:
    repo: github.com/acme/crm
    provider: github
    secret: s3cret-for-the-tests
    environments:
      dev:
        trigger: {branch: main}
        path: /srv/crm-dev
        compose: {files: [compose.yml], project: crm_dev}
        health: {url: "http://127.0.0.1:8000/healthz"}
      prod:
        trigger: {tag: "v*"}
        host: edge-1
        docker_host: %s
        path: /srv/crm
        compose: {files: [compose.yml], project: crm}
        health: {url: "http://127.0.0.1:9000/healthz"}
"""


def _settings(docker_host: str = "ssh://deploy@10.0.0.5") -> Settings:
    return parse_settings(TWO_HOSTS % docker_host, "test.yml", {})


@pytest.mark.parametrize(
    "docker_host",
    [
        "ssh://deploy@10.0.0.5",
        "ssh://deploy@edge-1.example.com:2222",
        "ssh://edge-1",
        "unix:///run/docker.sock",
    ],
)
def test_docker_host_accepts_unix_and_ssh(docker_host: str) -> None:
    """unix:// sockets and ssh://[user@]host[:port] daemons are accepted as docker_host."""
    assert _settings(docker_host).environment("crm", "prod").docker_host == docker_host


@pytest.mark.parametrize(
    "docker_host",
    [
        "tcp://10.0.0.5",
        "tcp://-oProxyCommand=x:2375",
        "ssh://deploy@host;rm -rf /",
        "ssh://deploy@ host",
        "unix://relative.sock",
        "/run/docker.sock",
        "ssh://-oProxyCommand=x",
        "",
    ],
)
def test_docker_host_refuses_anything_else(docker_host: str) -> None:
    """Shell text, relative sockets and option-looking hosts are config errors (and tcp://
    without TLS: tests/swarm/test_swarm_rules.py)."""
    with pytest.raises(ConfigError) as caught:
        _settings(f"'{docker_host}'")
    assert caught.value.problems == [
        "projects.crm.environments.prod.docker_host: "
        "expected unix:///path/to/docker.sock, ssh://user@host[:port] or tcp://host:port; "
        f"got {docker_host!r}"
    ]


def test_each_host_has_its_queue() -> None:
    """Environments name their host; the configuration's queues are one per host."""
    settings = _settings()
    assert settings.environment("crm", "dev").queue == "deploys.local"
    assert settings.environment("crm", "prod").queue == "deploys.edge-1"
    assert settings.queues() == ["deploys.edge-1", "deploys.local"]


def test_worker_queues_from_hosts_and_queues() -> None:
    """--host NAME means deploys.NAME; --queue adds queues as given; neither means all."""
    settings = _settings()
    assert worker_queues(settings, ["edge-1"], []) == ["deploys.edge-1"]
    assert worker_queues(settings, ["edge-1"], ["deploys.local"]) == [
        "deploys.edge-1",
        "deploys.local",
    ]
    assert worker_queues(settings, [], []) is None


def test_worker_for_a_host_no_environment_names_is_refused() -> None:
    """A misspelt --host is an error that lists the configured hosts, not a worker idling."""
    with pytest.raises(OperationError) as caught:
        worker_queues(_settings(), ["edge1"], [])
    assert str(caught.value) == (
        "no environment is on host edge1; hosts in the configuration: edge-1, local "
        "(set `host:` on an environment to add one)"
    )


def test_commands_of_a_remote_environment_get_its_docker_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A docker_host replaces the worker's DOCKER_HOST (and context) for that environment only."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///worker/docker.sock")
    monkeypatch.setenv("DOCKER_CONTEXT", "somewhere")
    settings = _settings("unix:///srv/edge/docker.sock")
    remote = command_environ(settings.environment("crm", "prod"), [])
    assert remote["DOCKER_HOST"] == "unix:///srv/edge/docker.sock"
    assert "DOCKER_CONTEXT" not in remote
    local = command_environ(settings.environment("crm", "dev"), [])
    assert (local["DOCKER_HOST"], local["DOCKER_CONTEXT"]) == (
        "unix:///worker/docker.sock",
        "somewhere",
    )
