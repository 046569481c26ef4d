"""Real sops, age and git: a commit's SOPS files are found by content, decrypted before anything
changes (or refused, naming the file), written 0600 untracked, and put back on a revert."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import redis

from config import Settings
from jobs.commands import sops
from jobs.execution.context import DeployContext, new_context
from jobs.execution.deploylog import DeployLog
from jobs.failures.errors import StageFailed
from jobs.secrets.decrypt import decrypt_release, install, restore_previous, sops_reason
from jobs.secrets.files import plain_name
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from tests.support.git_repo import git
from tests.support.git_repos import Repos, make_repos
from tests.support.sops_files import AgeKey, encrypt, new_age_key

OLD_PASSWORD = "old-database-password-71c2"
NEW_PASSWORD = "new-database-password-93ae"


@pytest.fixture
def key(tmp_path: Path) -> AgeKey:
    return new_age_key(tmp_path)


def _context(connection: redis.Redis, repos: Repos, tmp: Path, sha: str) -> DeployContext:
    environment = {
        "trigger": {"branch": "main"}, "path": str(repos.checkout),
        "compose": {"files": ["compose.yml"], "project": "app"},
        "health": {"url": "http://127.0.0.1:9/"},
    }  # fmt: skip
    settings = Settings.model_validate({
        "state_dir": str(tmp / "state"),
        "projects": {"app": {"repo": "example.com/acme/app", "provider": "github",
                             "secret": "webhook-secret-0123456789",
                             "environments": {"dev": environment}}},
    })  # fmt: skip
    record = Deploy(new_deploy_id(), "app", "dev", "branch", "main", sha, "test")
    store = DeployStore(connection)
    return new_context(record, settings, store, DeployLog(store, record.id))


@pytest.mark.parametrize(
    ("path", "plain"),
    [
        ("app.sops.env", "app.env"),
        ("config/secrets.sops.yaml", "config/secrets.yaml"),
        (".env.sops", ".env"),
        ("x.enc.json", "x.json"),
        ("config/secrets.yaml", "config/secrets.decrypted.yaml"),
        ("token", "token.decrypted"),
    ],
)
def test_where_a_plaintext_goes(path: str, plain: str) -> None:
    """The .sops/.enc infix is dropped; a file encrypted in place gets `.decrypted`."""
    assert plain_name(path) == plain


def test_sops_argv(tmp_path: Path) -> None:
    """git grep for the MAC marker, cat-file for the blob, sops with explicit formats."""
    assert sops.encrypted_files(Path("/srv/app"), "abc") == [
        "git", "-C", "/srv/app", "grep", "-l", "--fixed-strings", "-e", "ENC[AES256_GCM,data:",
        "abc", "--",
    ]  # fmt: skip
    assert sops.blob(Path("/srv/app"), "abc", "a.sops.env") == [
        "git", "-C", "/srv/app", "cat-file", "blob", "abc:a.sops.env",
    ]  # fmt: skip
    assert sops.decrypt(Path("/tmp/e"), sops.file_type("a.sops.env"))[1:] == [
        "--decrypt", "--input-type", "dotenv", "--output-type", "dotenv", "/tmp/e",
    ]  # fmt: skip
    assert sops.file_type("s.sops.yml") == "yaml" and sops.file_type("blob.bin") == "binary"


def test_decrypts_writes_0600_and_a_revert_brings_back_the_previous(
    redis_conn: redis.Redis, tmp_path: Path, key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both releases' files decrypt with the key; the new plaintext is written 0600 and
    untracked; the revert writes the previous release's and removes a file only the new had."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    repos = make_repos(tmp_path)
    old = repos.commit({"app.sops.env": encrypt(f"DB_PASSWORD={OLD_PASSWORD}\n", "dotenv", key),
                        ".gitignore": "app.env\nextra.yaml\n"}, "old")  # fmt: skip
    new = repos.commit({
        "app.sops.env": encrypt(f"DB_PASSWORD={NEW_PASSWORD}\n", "dotenv", key),
        "extra.sops.yaml": encrypt("api_key: extra-key-value-5521\n", "yaml", key),
    }, "new")  # fmt: skip
    git(repos.checkout, "fetch", "--quiet", "origin")
    ctx = _context(redis_conn, repos, tmp_path, new)
    plaintexts = decrypt_release(ctx, new, "secrets")
    assert sorted(plaintexts) == ["app.env", "extra.yaml"]
    git(repos.checkout, "checkout", "--quiet", "--detach", new)
    install(ctx, plaintexts, old)
    written = repos.checkout / "app.env"
    assert written.read_text() == f"DB_PASSWORD={NEW_PASSWORD}\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert git(repos.checkout, "status", "--porcelain") == ""  # untracked and ignored
    git(repos.checkout, "checkout", "--quiet", "--detach", old)
    restore_previous(ctx, old)
    assert written.read_text() == f"DB_PASSWORD={OLD_PASSWORD}\n"
    assert not (repos.checkout / "extra.yaml").exists()
    log = "\n".join(ctx.store.log(ctx.deploy.id))
    assert NEW_PASSWORD not in log and OLD_PASSWORD not in log and "app.sops.env" in log


@pytest.mark.parametrize("key_state", ["unset", "missing file", "wrong key"])
def test_a_file_that_will_not_decrypt_is_named(
    redis_conn: redis.Redis,
    tmp_path: Path,
    key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    key_state: str,
) -> None:
    """No key, a key file that is not there, or another key: StageFailed naming the file."""
    repos = make_repos(tmp_path)
    sha = repos.commit({"prod.sops.env": encrypt("A=secret-value-0042\n", "dotenv", key)}, "s")
    git(repos.checkout, "fetch", "--quiet", "origin")
    if key_state == "unset":
        monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    elif key_state == "missing file":
        monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "no-such-key.txt"))
    else:
        monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(new_age_key(tmp_path, "other.txt").path))
    ctx = _context(redis_conn, repos, tmp_path, sha)
    with pytest.raises(StageFailed, match=r"prod\.sops\.env") as refused:
        decrypt_release(ctx, sha, "secrets")
    expected = "SOPS_AGE_KEY_FILE" if key_state != "wrong key" else "did not match"
    assert expected in str(refused.value), refused.value
    assert "secret-value-0042" not in str(refused.value)


def test_sops_reason_keeps_the_telling_lines() -> None:
    """The first line and the indented detail, not sops's closing boilerplate."""
    output = (
        "Failed to get the data key required to decrypt the SOPS file.\n\nGroup 0: FAILED\n"
        "  age1xyz: FAILED\n    - | failed to load age identities: no such file\n"
        "      | or directory.\n\nRecovery failed because no master key was able to decrypt"
    )
    assert sops_reason(output) == (
        "Failed to get the data key required to decrypt the SOPS file. failed to load age "
        "identities: no such file or directory."
    )


def test_doctor_checks_the_key_decrypts_every_sops_file(tmp_path: Path, key: AgeKey) -> None:
    """doctor: ok when SOPS_AGE_KEY_FILE decrypts every SOPS file at the checkout's HEAD; a
    file encrypted to another key fails, named; no SOPS files: no finding."""
    from jobs.doctor.check import Status
    from jobs.doctor.offsite import check_sops
    from jobs.doctor.probe import Prober

    repos = make_repos(tmp_path)
    settings = Settings.model_validate({"projects": {"app": {
        "repo": "example.com/acme/app", "provider": "github", "secret": "webhook-secret-0123456789",
        "environments": {"dev": {
            "trigger": {"branch": "main"}, "path": str(repos.checkout),
            "compose": {"files": ["c.yml"], "project": "app"}, "health": {"url": "http://h/"},
        }},
    }}})  # fmt: skip
    environment = settings.environment("app", "dev")
    environ = {**os.environ, "SOPS_AGE_KEY_FILE": str(key.path)}
    assert check_sops("app/dev", environment, Prober(environ)) is None
    other = new_age_key(tmp_path, "other.txt")
    repos.commit({
        "a.sops.env": encrypt("A=value-one-123456\n", "dotenv", key),
        "b.sops.yaml": encrypt("b: value-two-123456\n", "yaml", other),
    }, "secrets")  # fmt: skip
    git(repos.checkout, "pull", "--quiet")
    found = check_sops("app/dev", environment, Prober(environ))
    assert found is not None and found.status == Status.FAIL, found
    assert "b.sops.yaml" in found.detail and "a.sops.env" not in found.detail
    assert "value-" not in found.detail
    both = {**environ, "SOPS_AGE_KEY_FILE": str(other.path)}
    assert check_sops("app/dev", environment, Prober(both)).status == Status.FAIL  # type: ignore[union-attr]
    repos.commit({"b.sops.yaml": encrypt("b: value-two-123456\n", "yaml", key)}, "one key")
    git(repos.checkout, "pull", "--quiet")
    fine = check_sops("app/dev", environment, Prober(environ))
    assert fine is not None and fine.status == Status.OK, fine
