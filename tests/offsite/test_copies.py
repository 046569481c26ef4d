"""Real restic: a backup file copied to a local, an SFTP and an S3 repository comes back byte
for byte, is listed with its tags, and retention forgets what the local rules would drop."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from config import parse_settings
from jobs.execution.context import DeployContext, new_context
from jobs.execution.deploylog import DeployLog
from jobs.offsite.copy import copy_backup, copy_file
from jobs.offsite.fetch import fetch_missing
from jobs.offsite.repository import list_copies
from jobs.offsite.retention import forget_old_copies
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from tests.offsite.conftest import sftp_repository
from tests.support.offsite import PASSWORD, S3_KEYS, offsite_config
from tests.support.sshd import Sshd, environ_with


def _context(
    connection: redis.Redis, tmp: Path, offsite: dict[str, Any], environ: dict[str, str]
) -> DeployContext:
    environment = {
        "trigger": {"branch": "main"}, "path": str(tmp / "checkout"),
        "compose": {"files": ["compose.yml"], "project": "offsite"},
        "health": {"url": "http://127.0.0.1:9/"},
        "backups": {"dir": str(tmp / "backups"), "keep_count": 2, "offsite": offsite},
    }  # fmt: skip
    config = {
        "state_dir": str(tmp / "state"),
        "projects": {"sample": {
            "repo": "example.com/acme/sample", "provider": "github",
            "secret": "webhook-secret-0123456789",
            "environments": {"prod": environment},
        }},
    }  # fmt: skip
    settings = parse_settings(yaml.safe_dump(config), "test", environ)
    record = Deploy(new_deploy_id(), "sample", "prod", "branch", "main", "a" * 40, "test")
    store = DeployStore(connection)
    ctx = new_context(record, settings, store, DeployLog(store, record.id))
    ctx.runner.environ.update(environ)
    return ctx


def _backup(ctx: DeployContext, label: str) -> Path:
    directory = Path(str(ctx.environment.backups.dir))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"prod-{label}-{ctx.deploy.id}.dump"
    path.write_bytes(os.urandom(200_000) + label.encode())
    return path


@pytest.fixture(params=["local", "sftp", "s3"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[dict[str, Any], dict[str, str]]:
    """(`backups.offsite`, the worker's environment) for each kind of repository."""
    password = tmp_path / "restic-password"
    if request.param == "local":
        return offsite_config(str(tmp_path / "repo"), password), dict(os.environ)
    if request.param == "sftp":
        sshd: Sshd = request.getfixturevalue("sftp")
        repository = sftp_repository(sshd, tmp_path / "sftp-repo")
        return offsite_config(repository, password), environ_with(sshd)
    moto: str = request.getfixturevalue("moto")
    env = {name: f"${{{name}}}" for name in S3_KEYS}
    repository = f"s3:{moto}/deployhook-{tmp_path.name.lower().replace('_', '-')[:40]}/prod"
    return offsite_config(repository, password, env=env), {**os.environ, **S3_KEYS}


def test_a_backup_goes_off_site_and_comes_back_byte_equal(
    redis_conn: redis.Redis, tmp_path: Path, backend: tuple[dict[str, Any], dict[str, str]]
) -> None:
    """The offsite stage copies the deploy's backup (first initialising the repository), the
    record names the snapshot, the listing shows it tagged, and a lost file is fetched back
    byte for byte."""
    ctx = _context(redis_conn, tmp_path, *backend)
    backup = _backup(ctx, "backup")
    ctx.backup = ctx.deploy.backup = str(backup)
    snapshot = copy_backup(ctx)
    assert snapshot and ctx.deploy.offsite_snapshot == snapshot and not ctx.deploy.offsite_error
    copies = list_copies(ctx.tools)
    assert [(c.short_id, c.name, c.deploy_id, c.kind) for c in copies] == [
        (snapshot[:8], backup.name, ctx.deploy.id, "backup")
    ]
    original = backup.read_bytes()
    backup.unlink()
    assert fetch_missing(ctx, backup) == backup and backup.read_bytes() == original
    assert PASSWORD not in "\n".join(ctx.store.log(ctx.deploy.id))


def test_retention_forgets_what_the_local_rules_drop(
    redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """forget keeps the newest keep_count and those within keep_days of the newest: two old
    copies beyond both go, the recent ones and another environment's copy stay."""
    offsite = offsite_config(str(tmp_path / "repo"), tmp_path / "pw")
    ctx = _context(redis_conn, tmp_path, offsite, dict(os.environ))
    recent = {copy_file(ctx, _backup(ctx, f"new{index}"), "backup")[:8] for index in range(3)}
    environ = {**os.environ, "RESTIC_PASSWORD": PASSWORD}
    for label, target in (("old0", "sample/prod"), ("old1", "sample/prod"), ("other", "x/y")):
        path = _backup(ctx, label)
        tags = ["deployhook", f"env:{target}", "deploy:d-old", "kind:backup"]
        argv = ["restic", "--repo", str(tmp_path / "repo"), "backup", "--quiet", "--host",
                "deployhook", "--time", "2020-01-01 00:00:00", "--stdin",
                "--stdin-filename", path.name]  # fmt: skip
        for tag in tags:
            argv += ["--tag", tag]
        subprocess.run(argv, input=path.read_bytes(), env=environ, check=True)
    assert len(list_copies(ctx.tools)) == 5
    assert forget_old_copies(ctx)
    assert {copy.short_id for copy in list_copies(ctx.tools)} == recent
    others = subprocess.run(
        ["restic", "--repo", str(tmp_path / "repo"), "snapshots", "--tag", "env:x/y", "--json"],
        env=environ, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert len(json.loads(others.stdout)) == 1


def test_a_copy_that_fails_goes_on_loudly_or_stops(redis_conn: redis.Redis, tmp_path: Path) -> None:
    """An unreachable repository: `continue` records the error and logs it loudly; `stop`
    raises StageFailed before anything changes."""
    from jobs.failures.errors import StageFailed

    unreachable = "sftp://root@127.0.0.1:1//nowhere"
    ctx = _context(redis_conn, tmp_path, offsite_config(unreachable, tmp_path / "pw"), {})
    ctx.backup = str(_backup(ctx, "b"))
    assert copy_backup(ctx) is None and ctx.deploy.offsite_error
    assert any("OFF-SITE COPY FAILED" in line for line in ctx.store.log(ctx.deploy.id))
    stopping = offsite_config(unreachable, tmp_path / "pw", on_failure="stop")
    ctx = _context(redis_conn, tmp_path, stopping, {})
    ctx.backup = str(_backup(ctx, "c"))
    with pytest.raises(StageFailed, match="on_failure: stop"):
        copy_backup(ctx)


def test_doctor_opens_the_repository_or_says_why(redis_conn: redis.Redis, tmp_path: Path) -> None:
    """doctor's offsite check: ok once the repository exists and the password opens it; a wrong
    password fails without showing it."""
    from jobs.doctor.check import Status
    from jobs.doctor.offsite import check_offsite
    from jobs.doctor.probe import Prober

    ctx = _context(redis_conn, tmp_path, offsite_config(str(tmp_path / "repo"), tmp_path / "p"),
                   dict(os.environ))  # fmt: skip
    copy_file(ctx, _backup(ctx, "first"), "backup")  # creates the repository
    found = check_offsite("sample/prod", ctx.environment, Prober(dict(os.environ)))
    assert found is not None and found.status == Status.OK, found
    (tmp_path / "w").write_text("not-the-password\n")
    wrong = _context(
        redis_conn, tmp_path,
        {"repository": str(tmp_path / "repo"), "password_file": str(tmp_path / "w")},
        dict(os.environ),
    )  # fmt: skip
    refused = check_offsite("sample/prod", wrong.environment, Prober(dict(os.environ)))
    assert refused is not None and refused.status == Status.FAIL
    assert "not-the-password" not in refused.detail
