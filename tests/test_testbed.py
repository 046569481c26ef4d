"""The Docker test bed itself: private engine, images, and the sample app deployed by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from config.model import Environment
from tests.support import git_repo
from tests.support.commands import mounts_below, run
from tests.support.docker_engine import Engine, running_engine
from tests.support.docker_reaper import reap_orphans
from tests.support.images import build_busybox_image
from tests.support.sample_app import SampleApp

pytestmark = pytest.mark.docker


def test_engine_is_private_and_reachable_through_os_environ(docker_engine: Engine) -> None:
    """docker, as code under test runs it, talks to the session's own engine socket."""
    assert os.environ["DOCKER_HOST"] == docker_engine.host
    assert docker_engine.host.startswith(f"unix://{docker_engine.directory}/")
    info = run(["docker", "info", "--format", "{{.DockerRootDir}}"])
    assert info.stdout.strip() == str(docker_engine.directory / "data")
    assert docker.from_env().info()["DockerRootDir"] == str(docker_engine.directory / "data")


def test_base_image_is_present(docker_engine: Engine, base_image: str) -> None:
    """The Debian base image exists in the engine and has PostgreSQL 15 and alembic."""
    probe = run(
        ["docker", "run", "--rm", "--network", "host", base_image,
         "sh", "-c", "/usr/lib/postgresql/15/bin/postgres --version && alembic --version"],
        env=docker_engine.env,
    )  # fmt: skip
    assert "(PostgreSQL) 15." in probe.stdout
    assert "alembic" in probe.stdout


def test_engine_stop_leaves_no_process_mount_or_directory() -> None:
    """A stopped engine takes its running containers, shims, mounts and files with it."""
    with running_engine() as engine:
        image = build_busybox_image(engine.env)
        run(["docker", "run", "-d", "--network", "host", image, "sleep", "600"], env=engine.env)
        assert run(["docker", "ps", "-q"], env=engine.env).stdout.strip()
    assert _processes_naming(engine.directory) == []
    assert not engine.directory.exists()
    assert mounts_below(engine.directory) == []


def test_engine_of_a_killed_session_is_reaped_by_the_next(tmp_path: Path) -> None:
    """An engine whose session died (SIGKILL, no teardown) is stopped and removed next time."""
    script = (
        "import time\n"
        "from tests.support.docker_engine import running_engine\n"
        "with running_engine() as engine:\n"
        "    print(engine.directory, flush=True)\n"
        "    time.sleep(600)\n"
    )
    session = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    assert session.stdout is not None
    directory = Path(session.stdout.readline().strip())
    session.kill()
    session.wait()
    assert directory.is_dir()
    assert _processes_naming(directory) != []
    reap_orphans()
    assert _processes_naming(directory) == []
    assert not directory.exists()
    assert mounts_below(directory) == []


def test_sample_app_v1_is_healthy_over_http(module_sample_app: SampleApp) -> None:
    """The sample app starts at v1 and its health endpoint says ok with version 1."""
    status, body = module_sample_app.get("/api/v1/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok", "version": "1"})
    assert module_sample_app.running_version() == "1"
    assert set(module_sample_app.container_ids()) == {"api", "postgres"}
    assert module_sample_app.volume_exists()


def test_pg_dump_through_compose_exec_holds_the_seeded_rows(module_sample_app: SampleApp) -> None:
    """`compose exec -T postgres pg_dump -U app app` works and the dump holds the seed rows."""
    result = module_sample_app.compose("exec", "-T", "postgres", "pg_dump", "-U", "app", "app")
    assert result.returncode == 0, result.stderr
    assert "Ada Lovelace\tada@example.com" in result.stdout
    assert module_sample_app.dump() == module_sample_app.dump()
    assert module_sample_app.psql("SELECT count(*) FROM customers") == "3"


def test_env_file_is_untracked_and_checkout_clean(module_sample_app: SampleApp) -> None:
    """.env exists in the checkout but git does not track it, and nothing else is dirty."""
    assert (module_sample_app.checkout / ".env").is_file()
    assert git_repo.git(module_sample_app.checkout, "ls-files", ".env") == ""
    assert git_repo.git(module_sample_app.checkout, "status", "--porcelain") == ""
    assert git_repo.git(module_sample_app.checkout, "rev-parse", "HEAD") == module_sample_app.v1


def test_environment_config_validates(module_sample_app: SampleApp) -> None:
    """The environment snippet the pipeline tests use is valid deployhook configuration."""
    environment = Environment.model_validate(module_sample_app.environment_config())
    assert environment.health.url == module_sample_app.health_url
    assert environment.compose.project == module_sample_app.project


def test_good_change_deployed_by_plain_compose_is_healthy_at_version_2(
    sample_app: SampleApp,
) -> None:
    """good_change() built, upped and migrated with plain compose serves version 2, data kept."""
    containers, images = sample_app.container_ids(), sample_app.image_ids()
    sha = sample_app.good_change()
    assert sample_app.head() == sha
    sample_app.deploy_by_hand(sha)
    assert sample_app.checked_out() == sha
    assert sample_app.wait_healthy()["version"] == "2"
    assert sample_app.container_ids()["api"] != containers["api"]
    assert sample_app.image_ids()["api"] != images["api"]
    assert sample_app.image_ids()["postgres"] == images["postgres"]
    assert sample_app.psql("SELECT count(*) FROM customers WHERE phone IS NOT NULL") == "3"
    assert (sample_app.checkout / ".env").is_file()


def _processes_naming(directory: Path) -> list[str]:
    marker = f"{directory}/".encode()
    naming = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes():
                naming.append(entry.name)
        except OSError:  # the process ended while we looked
            continue
    return naming
