"""Private repositories and remote Docker over a real sshd on 127.0.0.1: a deploy key through
GIT_SSH_COMMAND, and `docker_host: ssh://...` reaching the test engine through ssh."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config import Settings
from jobs.doctor.check import Status
from jobs.doctor.probe import Prober
from jobs.doctor.repository import check_repository
from jobs.doctor.stack import check_docker
from tests.support import git_repo
from tests.support.deploying import config_for, deploy
from tests.support.docker_engine import Engine
from tests.support.sample_app import TEMPLATE, SampleApp
from tests.support.sshd import Sshd, environ_with, running_sshd

pytestmark = pytest.mark.docker
REPO = "example.com/acme/sample"  # what deploying.config_for configures


@pytest.fixture(scope="module")
def sshd(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with running_sshd(tmp_path_factory.mktemp("sshd"), docker_engine.host) as server:
        yield server


def _over_ssh(checkout: Path, origin: Path, sshd: Sshd) -> str:
    """Point `checkout` at `origin` through sshd, at a path naming REPO."""
    mirror = origin.parent / "mirrors" / f"{REPO}.git"
    mirror.parent.mkdir(parents=True)
    mirror.symlink_to(origin)
    url = sshd.url(mirror)
    git_repo.git(checkout, "remote", "set-url", "origin", url)
    return url


def test_fetch_over_ssh_needs_the_deploy_key(sshd: Sshd, tmp_path: Path) -> None:
    """doctor's fetch check reads the repository over ssh with the key in GIT_SSH_COMMAND, and
    fails, naming the fix, without it."""
    origin, checkout = tmp_path / "origin.git", tmp_path / "checkout"
    git_repo.create_origin(TEMPLATE, origin, tmp_path / "author", "v1")
    git_repo.git(tmp_path, "clone", "--quiet", origin.as_uri(), str(checkout))
    url = _over_ssh(checkout, origin, sshd)
    environment = {
        "trigger": {"branch": "main"}, "path": str(checkout),
        "compose": {"files": ["docker-compose.yml"], "project": "ssh"},
        "health": {"url": "http://127.0.0.1:9/"},
    }  # fmt: skip
    settings = Settings.model_validate(config_for(environment, tmp_path / "state", "unused"))
    project, configured = settings.projects["sample"], settings.environment("sample", "dev")
    keyed = check_repository("sample/dev", project, configured, Prober(environ_with(sshd)))
    assert [(f.check, f.status) for f in keyed] == [
        ("checkout", Status.OK), ("remote", Status.OK), ("fetch", Status.OK),
    ], keyed  # fmt: skip
    keyless = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}  # no key, no ssh config
    fetch = check_repository("sample/dev", project, configured, Prober(keyless))[-1]
    assert fetch.status == Status.FAIL and url in fetch.detail, fetch
    assert "GIT_SSH_COMMAND" in fetch.fix


def test_doctor_reaches_docker_through_ssh(sshd: Sshd, tmp_path: Path) -> None:
    """doctor's docker check answers for `docker_host: ssh://...` with the user's ssh config,
    and fails naming the ssh fix without it."""
    environment = {
        "trigger": {"branch": "main"}, "path": str(tmp_path),
        "compose": {"files": ["compose.yml"], "project": "ssh"},
        "health": {"url": "http://127.0.0.1:9/"}, "docker_host": sshd.docker_host,
    }  # fmt: skip
    settings = Settings.model_validate(config_for(environment, tmp_path / "state", "unused"))
    configured = settings.environment("sample", "dev")
    through = {"DOCKER_HOST": sshd.docker_host}  # as command_environ sets it
    docker = check_docker("sample/dev", configured, Prober({**environ_with(sshd), **through}))
    assert docker.status == Status.OK and sshd.docker_host in docker.detail, docker
    keyless = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **through}
    refused = check_docker("sample/dev", configured, Prober(keyless))
    assert refused.status == Status.FAIL and "known_hosts" in refused.fix, refused


def test_deploy_fetches_and_swaps_through_ssh(
    sample_app: SampleApp,
    sshd: Sshd,
    redis_conn: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deploy whose repository and Docker engine are reached only through sshd succeeds:
    the worker's own DOCKER_HOST is a dead socket, so nothing could bypass docker_host."""
    _over_ssh(sample_app.checkout, sample_app.origin, sshd)
    for name, value in environ_with(sshd).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    environment = {**sample_app.environment_config(), "docker_host": sshd.docker_host}
    settings = Settings.model_validate(config_for(environment, tmp_path / "state", "unused"))
    sha = sample_app.good_change()
    record = deploy(settings, redis_conn, sha)
    assert record.state == "succeeded", record.error
    assert sample_app.checked_out() == sha and sample_app.running_version() == "2"
