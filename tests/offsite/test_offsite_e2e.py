"""Real deploys with off-site copies and SOPS secrets: real restic, sops, age, Docker and
PostgreSQL, one sample app shared by the module (the tests run in order, each leaving it
healthy at its previous version).

- a release with an encrypted env file deploys, the service sees the secret, and the backup
  goes off-site with its snapshot in the record;
- without the key the deploy is refused before anything changes, naming the file;
- a revert brings back the previous release's secret;
- host loss: the local backups vanish mid-deploy, and a failed destructive deploy is restored
  from the off-site copy, byte for byte;
- no plaintext in Redis, the logs or the pages (after each deploy), nor in any backup;
- restore drills: the newest off-site backup restores with every table counted and its schema
  as recorded; after the repository is damaged the drill fails and is reported.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from config import Settings, parse_settings
from jobs.offsite.drill import verify_backups
from jobs.state.drills import last_drill
from jobs.state.records import DeployStore
from tests.support import git_repo
from tests.support.deploying import config_for, deploy, work
from tests.support.docker_engine import Engine
from tests.support.failures import assert_cause
from tests.support.offsite import PASSWORD, offsite_config
from tests.support.provider_server import SLACK, ProviderServer
from tests.support.sample_app import FAILING_HEALTH, SampleApp
from tests.support.sops_files import AgeKey, encrypt, new_age_key
from tests.support.status import status_app
from tests.support.users import with_test_users
from webhook.cli import main

pytestmark = pytest.mark.docker
FIRST_SECRET = f"first-sops-secret-{secrets.token_hex(6)}"
SECOND_SECRET = f"second-sops-secret-{secrets.token_hex(6)}"
ENV_FILE = "  api:\n    env_file:\n      - path: secrets.env\n        required: false\n"


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("offsite-e2e")


@pytest.fixture(scope="module")
def app(
    docker_engine: Engine, compose_command: list[str], base_image: str, bed: Path
) -> Iterator[SampleApp]:
    sample = SampleApp.create(docker_engine, compose_command, base_image, bed / "app")
    yield sample
    sample.stop()


@pytest.fixture(scope="module")
def key(bed: Path) -> AgeKey:
    return new_age_key(bed)


@pytest.fixture(autouse=True)
def age_key(key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> AgeKey:
    """The worker's environment names the key, as docs/backups.md says to set it."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    return key


def _settings(
    app: SampleApp, bed: Path, redis_url: str, notify: dict[str, Any] | None = None,
    health_timeout: float = 120, **environment: Any,
) -> tuple[Settings, Path]:  # fmt: skip
    """The app with `backups.offsite` on a local restic repository; (settings, repository)."""
    repository = bed / "restic-repo"
    config = config_for(app.environment_config(), bed / "state", redis_url)
    if notify:
        config["notify"] = notify
    configured = config["projects"]["sample"]["environments"]["dev"]
    configured["backups"]["offsite"] = offsite_config(str(repository), bed / "restic-pw")
    # A shared machine under load makes the api's Docker healthcheck slow: health within 2 min.
    configured["health"]["timeout"] = health_timeout
    configured.update(environment)
    return parse_settings(yaml.safe_dump(config), "test", os.environ), repository


def _secret_release(app: SampleApp, key: AgeKey, value: str, change: str | None = None) -> str:
    """A commit whose api reads secrets.env, decrypted from the committed secrets.sops.env."""
    compose = (app.author / "docker-compose.yml").read_text()
    if "secrets.env" not in compose:
        compose = compose.replace("  api:\n", ENV_FILE, 1)
    files = {
        "docker-compose.yml": compose,
        "secrets.sops.env": encrypt(f"APP_SECRET={value}\n", "dotenv", key),
        ".gitignore": "secrets.env\n",
    }
    if change == "failing migration":
        from tests.support import sample_scenarios

        extra, _ = sample_scenarios.failing_migration(app.author, "main")
        files.update({name: content for name, content in extra.items() if content is not None})
    return app.commit(files, f"secret {value[:12]}")


def _api_secret(app: SampleApp) -> str:
    return app.compose_ok("exec", "-T", "api", "printenv", "APP_SECRET").strip()


def test_a_release_with_an_encrypted_env_file_deploys_and_its_backup_goes_off_site(
    app: SampleApp, bed: Path, redis_url: str, redis_conn: redis.Redis, age_key: AgeKey,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """The api runs with the decrypted value, the plaintext is 0600 and untracked, and the
    backup's off-site snapshot is in the record and in the listing."""
    settings, repository = _settings(app, bed, redis_url)
    record = deploy(settings, redis_conn, _secret_release(app, age_key, FIRST_SECRET))
    assert record.state == "succeeded", record.error
    assert _api_secret(app) == FIRST_SECRET
    plain = app.checkout / "secrets.env"
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    status = git_repo.git(app.checkout, "status", "--porcelain", "--ignored").splitlines()
    assert "!! secrets.env" in status and not [line for line in status if "secrets" in line[3:]
                                               and not line.startswith("!!")]  # fmt: skip
    assert record.decrypted_files == ["secrets.env"]
    assert [stage.name for stage in record.stages][:6] == [
        "snapshot", "fetch", "secrets", "backup", "offsite", "checkout",
    ]  # fmt: skip
    assert record.offsite_snapshot and record.offsite_error is None
    listing = _restic(repository, "snapshots", "--json")
    assert record.offsite_snapshot[:8] in listing and Path(str(record.backup)).name in listing
    _no_plaintext_in_redis_logs_or_pages(redis_conn, settings, caplog)


def test_a_missing_key_refuses_the_deploy_with_nothing_changed(
    app: SampleApp, bed: Path, redis_url: str, redis_conn: redis.Redis, age_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """No SOPS_AGE_KEY_FILE: `failed` at the secrets stage, naming the file; no backup taken,
    the checkout, the containers and the plaintext as they were."""
    settings, _ = _settings(app, bed, redis_url)
    sha = _secret_release(app, age_key, SECOND_SECRET)
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    before = (app.checked_out(), app.container_ids(), sorted(app.backups_dir.iterdir()))
    record = deploy(settings, redis_conn, sha)
    assert record.state == "failed" and record.failed_stage == "secrets", record.error
    assert_cause(record, "cannot decrypt secrets.sops.env: SOPS_AGE_KEY_FILE is not set")
    assert "secrets.sops.env" in str(record.error) and "SOPS_AGE_KEY_FILE" in str(record.error)
    assert "nothing was changed" in str(record.error)
    assert (app.checked_out(), app.container_ids(), sorted(app.backups_dir.iterdir())) == before
    assert _api_secret(app) == FIRST_SECRET
    assert (app.checkout / "secrets.env").read_text() == f"APP_SECRET={FIRST_SECRET}\n"


def test_a_revert_brings_back_the_previous_release_secrets(
    app: SampleApp, bed: Path, redis_url: str, redis_conn: redis.Redis, age_key: AgeKey,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A release with a new secret whose migration fails is reverted: the file and the running
    api hold the previous release's value again."""
    settings, _ = _settings(app, bed, redis_url)
    try:
        record = deploy(
            settings, redis_conn, _secret_release(app, age_key, SECOND_SECRET, "failing migration")
        )
    finally:
        _forget_failed_commit(app)  # whatever happened, the next test builds on what runs
    assert record.state == "reverted", record.error
    assert record.failed_stage == "migrate", record.error
    assert_cause(record, "RuntimeError: migration failed midway on purpose")
    assert (app.checkout / "secrets.env").read_text() == f"APP_SECRET={FIRST_SECRET}\n"
    assert _api_secret(app) == FIRST_SECRET
    assert record.decrypted_files == ["secrets.env"]
    _no_plaintext_in_redis_logs_or_pages(redis_conn, settings, caplog)


def test_host_loss_a_failed_destructive_deploy_is_restored_from_off_site(
    app: SampleApp, bed: Path, redis_url: str, redis_conn: redis.Redis, age_key: AgeKey,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """The backup directory is gone before the deploy, and what the deploy writes is gone
    again after its migration (an after_migrate hook moves it aside): the revert fetches the
    backup from off-site, byte for byte, and the dropped data is back."""
    shutil.rmtree(app.backups_dir)
    aside = bed / "lost-backups"
    lose = {"after_migrate": [{"command": ["mv", str(app.backups_dir), str(aside)]}]}
    # The release is never healthy: the deadline is waited out, so not 2 min of it. The
    # revert's health (the restored previous version, healthy in about 3 s at load 5) gets
    # the same FAILING_HEALTH as every such revert.
    settings, _ = _settings(app, bed, redis_url, health_timeout=FAILING_HEALTH, hooks=lose)
    app.psql("INSERT INTO customers (name, email) VALUES ('Kept', 'kept@x.test')")
    before = app.dump()
    try:
        record = deploy(settings, redis_conn, app.destructive_migration_unhealthy_code())
    finally:
        _forget_failed_commit(app)
    assert record.state == "reverted", record.error
    assert record.failed_stage == "health", record.error
    assert_cause(record, "not healthy within")
    assert aside.is_dir(), DeployStore(redis_conn).log(record.id)[-80:]
    fetched = Path(str(record.backup))
    assert record.fetched_snapshot == str(record.offsite_snapshot)[:8]
    assert fetched.read_bytes() == (aside / fetched.name).read_bytes()
    assert app.dump() == before
    assert record.kept_offsite_snapshot, record.kept_offsite_error
    assert _api_secret(app) == FIRST_SECRET
    _no_plaintext_in_redis_logs_or_pages(redis_conn, settings, caplog)


def test_an_operator_lists_and_restores_an_off_site_backup(
    app: SampleApp, bed: Path, redis_url: str, redis_conn: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """With no local backup left, `backups list` shows the off-site copies and `backups restore
    --offsite` fetches the newest deploy backup and restores it (a row written since is gone,
    and kept in the kept dump)."""
    shutil.rmtree(app.backups_dir, ignore_errors=True)
    config_file = _config_file(app, bed, redis_url)
    assert main(["backups", "list", "sample/dev", "--json", "--config", str(config_file)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {entry["where"] for entry in listed} == {"offsite"}
    newest = next(entry for entry in listed if entry["kind"] == "backup")
    app.psql("INSERT INTO customers (name, email) VALUES ('Since', 'since@x.test')")
    verb = ["backups", "restore", "sample/dev", "--offsite", "--yes", "--config", str(config_file)]
    assert main(verb) == 0, capsys.readouterr().err
    assert f"restored {newest['name']}" in capsys.readouterr().out
    names = app.psql("SELECT name FROM customers ORDER BY name")
    assert "Kept" in names and "Since" not in names
    assert (app.backups_dir / newest["name"]).is_file()
    app.wait_healthy()


def test_a_rollback_whose_backup_is_gone_restores_it_from_off_site(
    app: SampleApp, bed: Path, redis_url: str, redis_conn: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Two good deploys (a migration, then code only), then the host loses its backups:
    `rollback --yes` still takes the database back, with the backup fetched from off-site (the
    record names the snapshot)."""
    settings, _ = _settings(app, bed, redis_url)
    first = deploy(settings, redis_conn, app.good_change())
    second = deploy(settings, redis_conn, app.commit({"NOTES": "a code-only change\n"}, "notes"))
    assert (first.state, second.state) == ("succeeded", "succeeded"), second.error
    app.psql("INSERT INTO customers (name, email) VALUES ('Rolled', 'rolled@x.test')")
    shutil.rmtree(app.backups_dir)
    config_file = _config_file(app, bed, redis_url)
    verb = ["rollback", "sample/dev", "--yes", "--no-wait", "--config", str(config_file)]
    assert main(verb) == 0, capsys.readouterr().err
    rollback_id = capsys.readouterr().out.strip().splitlines()[-1]
    work(settings, redis_conn)
    record = DeployStore(redis_conn).get(rollback_id)
    assert record.state == "succeeded", record.error
    assert record.restore_backup == second.backup
    assert record.fetched_snapshot == str(second.offsite_snapshot)[:8]
    assert "Rolled" not in app.psql("SELECT name FROM customers")
    assert app.checked_out() == first.sha


def test_clone_data_from_another_environments_off_site_copy(
    app: SampleApp, bed: Path, redis_url: str, redis_conn: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`backup` copies off-site too; with the source's local backups gone, `clone-data
    --snapshot latest` fetches its newest copy and restores it into the target."""
    config_file = _config_file(app, bed, redis_url, with_prod=True)
    assert main(["backup", "sample/prod", "--config", str(config_file)]) == 0
    taken = Path(capsys.readouterr().out.strip().splitlines()[-1])
    shutil.rmtree(taken.parent)
    app.psql("INSERT INTO customers (name, email) VALUES ('Cloned away', 'c@x.test')")
    verb = ["clone-data", "sample/prod", "sample/dev", "--snapshot", "latest", "--yes"]
    assert main([*verb, "--config", str(config_file)]) == 0, capsys.readouterr().err
    assert f"cloned {taken.name} into sample/dev" in capsys.readouterr().out
    assert "Cloned away" not in app.psql("SELECT name FROM customers")
    assert (taken.parent / taken.name).is_file()
    app.wait_healthy()


def test_no_plaintext_in_any_backup(app: SampleApp, bed: Path, redis_url: str) -> None:
    """After all those deploys, neither secret's value is in a local dump, a kept dump, the raw
    restic repository or any snapshot's contents (Redis, logs and pages: each deploy test)."""
    _, repository = _settings(app, bed, redis_url)
    dumps = [path.read_bytes() for path in bed.rglob("*.dump")]
    raw = [path.read_bytes() for path in repository.rglob("*") if path.is_file()]
    restored = [
        _restic_bytes(repository, "dump", copy["short_id"], copy["paths"][0])
        for copy in json.loads(_restic(repository, "snapshots", "--json"))
    ]
    assert len(dumps) >= 3 and len(restored) >= 3
    for secret in (FIRST_SECRET, SECOND_SECRET):
        assert not [d for d in dumps + raw + restored if secret.encode() in d], secret


def test_a_restore_drill_passes_then_fails_on_a_damaged_repository(
    app: SampleApp, bed: Path, redis_url: str, redis_conn: redis.Redis, provider: ProviderServer
) -> None:
    """verify-backups restores the newest off-site backup into a throwaway database: every table
    counted, schema as recorded; after the repository's data is damaged it fails, the failure
    is recorded for the page and /metrics and reported to Slack."""
    notify = {"slack": {"webhook_url": provider.url(SLACK)}}
    settings, repository = _settings(app, bed, redis_url, notify)
    passed = verify_backups(settings, redis_conn, "sample/dev")
    assert passed.ok, passed.error
    assert passed.tables["public.customers"] >= 1 and not passed.missing
    assert passed.schema_restored == passed.schema_recorded is not None
    assert last_drill(redis_conn, "sample/dev") == passed
    assert not _drill_containers(app)
    for pack in (repository / "data").rglob("*"):
        if pack.is_file():
            content = bytearray(pack.read_bytes())
            content[len(content) // 2] ^= 0xFF
            pack.write_bytes(bytes(content))
    failed = verify_backups(settings, redis_conn, "sample/dev")
    assert not failed.ok and failed.error
    assert last_drill(redis_conn, "sample/dev") == failed
    viewer = status_app(redis_conn, with_test_users(settings)).test_client()
    page = viewer.get("/").get_data(as_text=True)
    assert "Restore drill" in page and "FAILED" in page
    metrics = viewer.get("/metrics").get_data(as_text=True)
    assert 'deployhook_backup_drill_ok{environment="dev",project="sample"} 0.0' in metrics
    messages = [seen.body for seen in provider.to(SLACK)]
    assert any("RESTORE DRILL FAILED for sample/dev" in str(body) for body in messages)
    assert not _drill_containers(app)


def _no_plaintext_in_redis_logs_or_pages(
    connection: redis.Redis, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither secret in any Redis value (records, logs, commands, reports), the status pages
    and API of every deploy, or the worker's log lines."""
    found: list[bytes] = []
    for key in connection.scan_iter(count=1000):
        kind = connection.type(key).decode()
        if kind == "string":
            found.append(connection.get(key) or b"")
        elif kind == "list":
            found += connection.lrange(key, 0, -1)
        elif kind == "hash":
            found += list(connection.hgetall(key).values())
        elif kind in ("set", "zset"):
            found += list(
                connection.smembers(key) if kind == "set" else connection.zrange(key, 0, -1)
            )
    client = status_app(connection, with_test_users(settings)).test_client()
    answers = [client.get(path) for path in ("/", "/api/environments", "/api/deploys")]
    history = DeployStore(connection).history("sample/dev", limit=50)
    for record in history:
        answers += [
            client.get(f"/deploys/{record.id}"),
            client.get(f"/api/deploys/{record.id}/log"),
        ]
    assert history and len(found) > 10
    assert {answer.status_code for answer in answers} == {200}
    pages = [answer.get_data() for answer in answers]
    for secret in (FIRST_SECRET, SECOND_SECRET):
        assert not [v for v in found if secret.encode() in v], f"{secret} in Redis"
        assert not [p for p in pages if secret.encode() in p], f"{secret} on a page"
        assert secret not in caplog.text, f"{secret} in the worker's log"


def _config_file(app: SampleApp, bed: Path, redis_url: str, with_prod: bool = False) -> Path:
    """The configuration file an operator's CLI reads; `with_prod`: a second environment on
    the same stack, with backups of its own, for clone-data."""
    config = config_for(app.environment_config(), bed / "state", redis_url)
    environments = config["projects"]["sample"]["environments"]
    offsite = offsite_config(str(bed / "restic-repo"), bed / "restic-pw")
    environments["dev"]["backups"]["offsite"] = offsite
    if with_prod:
        prod = {**app.environment_config(), "trigger": {"tag": "v*"}}
        prod["backups"] = {"dir": str(bed / "prod-backups"), "min_free_mb": 1, "offsite": offsite}
        environments["prod"] = prod
    config_file = bed / "deployhook.yml"
    config_file.write_text(yaml.safe_dump(config))
    return config_file


def _restic(repository: Path, *args: str) -> str:
    environ = {**os.environ, "RESTIC_PASSWORD": PASSWORD}
    argv = ["restic", "--repo", str(repository), *args]
    return subprocess.run(argv, env=environ, capture_output=True, text=True, check=True).stdout


def _restic_bytes(repository: Path, *args: str) -> bytes:
    environ = {**os.environ, "RESTIC_PASSWORD": PASSWORD}
    argv = ["restic", "--repo", str(repository), *args]
    return subprocess.run(argv, env=environ, capture_output=True, check=True).stdout


def _drill_containers(app: SampleApp) -> list[str]:
    argv = ["docker", "ps", "--all", "--filter", "name=deployhook-drill-", "--format", "{{.Names}}"]
    listing = subprocess.run(argv, env=app.engine.env, capture_output=True, text=True, check=True)
    return listing.stdout.split()


def _forget_failed_commit(app: SampleApp) -> None:
    """Later commits build on main: put it back at what runs, so that the next test's commit
    does not carry the failed one's migration."""
    running = app.checked_out()
    git_repo.git(app.author, "push", "--quiet", "--force", "origin", f"{running}:refs/heads/main")
    git_repo.git(app.author, "reset", "--quiet", "--hard", running)
