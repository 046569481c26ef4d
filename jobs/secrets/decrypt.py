"""Decrypt a release's SOPS files before anything changes; write them once it is checked out.

The `secrets` stage runs before the backup: every encrypted file of the new commit is read
from git (not from the working tree, which still holds the live release) and decrypted into
memory. A file that will not decrypt (no key, the wrong key, a damaged file) fails the deploy
there, nothing changed, and the message names the file. After the checkout, the plaintexts
are written 0600 beside their encrypted files, untracked, and the previous release's
plaintexts that this one no longer has are removed. A revert does the same for the previous
commit. The values are masked in the deploy log from the moment they are read; they go to no
record, report, dump or backup.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jobs.commands import sops
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed
from jobs.secrets.files import encrypted_files, plain_name, write_private

KEY_VARIABLE = "SOPS_AGE_KEY_FILE"
DECRYPT_TIMEOUT = 120.0
MASK_MIN_LENGTH = 8  # shorter values ("true", "5432") would mask half the log


def wants_secrets(ctx: DeployContext) -> bool:
    """The new commit or the live one has SOPS files (or git cannot say: the stage will)."""
    try:
        return bool(_files_at(ctx, ctx.deploy.sha) or _files_at(ctx, ctx.previous_sha))
    except CommandFailed:
        return True


def decrypt_secrets(ctx: DeployContext) -> list[str]:
    """The `secrets` stage: decrypt the new commit's SOPS files (into memory); their paths."""
    ctx.plaintexts = decrypt_release(ctx, ctx.deploy.sha, "secrets")
    return sorted(ctx.plaintexts)


def decrypt_release(ctx: DeployContext, rev: str, stage: str) -> dict[str, bytes]:
    """{plaintext path: content} for every SOPS file at `rev`; StageFailed naming the file."""
    found = encrypted_files(ctx.runner, ctx.environment.path, rev)
    key = key_file(ctx.runner.environ)
    if found and key is None:
        raise StageFailed(
            stage,
            # The cause first and short: a commit status shows 140 characters.
            f"cannot decrypt {', '.join(found)}: {KEY_VARIABLE} is not set or its file is "
            "unreadable; point it at the worker's age key file",
        )
    plaintexts: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="deployhook-sops-") as scratch:
        for path in found:
            plaintexts[plain_name(path)] = _decrypt_one(ctx, rev, path, Path(scratch), stage)
    for target in plaintexts:
        tracked = ctx.runner.run(
            sops.is_tracked(ctx.environment.path, rev, target),
            timeout=60, check=False, quiet=True, read_only=True,
        )  # fmt: skip
        if tracked.exit_code == 0:
            raise StageFailed(
                stage,
                f"the plaintext of a SOPS file would overwrite {target}, which git tracks: "
                "rename the encrypted file to <name>.sops.<ext> next to an untracked <name>.<ext>",
            )
    ctx.log.hide(_values(plaintexts))
    if found:
        ctx.log.info(f"decrypted {len(found)} SOPS file(s): {', '.join(found)}")
    return plaintexts


def _decrypt_one(ctx: DeployContext, rev: str, path: str, scratch: Path, stage: str) -> bytes:
    encrypted, plain = scratch / "encrypted", scratch / "plain"
    plain.touch(mode=0o600)
    try:
        ctx.runner.run(
            sops.blob(ctx.environment.path, rev, path), timeout=60, stdout_path=encrypted,
            quiet=True, read_only=True,
        )  # fmt: skip
        ctx.runner.run(
            sops.decrypt(encrypted, sops.file_type(path)),
            timeout=DECRYPT_TIMEOUT,
            stdout_path=plain,
            extra_env={KEY_VARIABLE: str(key_file(ctx.runner.environ))},
            quiet=True,
            read_only=True,
        )
        return plain.read_bytes()
    except CommandFailed as error:
        why = sops_reason(error.output_tail) or str(error)
        raise StageFailed(stage, f"cannot decrypt {path} at {rev[:12]}: {why}") from None
    finally:
        plain.unlink(missing_ok=True)


def sops_reason(output: str) -> str:
    """sops's first line and the indented detail of why each key failed, in one short line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    detail = " ".join(line.split("|", 1)[1].strip() for line in lines if "|" in line)
    return " ".join(part for part in [*lines[:1], detail] if part)[:400]


def install_secrets(ctx: DeployContext) -> None:
    """After the checkout: write this release's plaintexts, remove the previous release's."""
    install(ctx, ctx.plaintexts or {}, ctx.previous_sha)
    ctx.plaintexts = None  # written: no need to hold them any longer


def install(ctx: DeployContext, plaintexts: dict[str, bytes], replacing: str | None) -> None:
    """Write `plaintexts` into the checkout; remove those of `replacing` (a commit) not among
    them, and those this deploy wrote before (a revert undoing them)."""
    checkout = ctx.environment.path
    try:
        stale = {plain_name(path) for path in _files_at(ctx, replacing)}
    except CommandFailed:
        stale = set()  # the replaced commit is unreadable: only what this deploy wrote goes
    stale |= set(ctx.deploy.decrypted_files)
    for target in sorted(stale - set(plaintexts)):
        (checkout / target).unlink(missing_ok=True)
        ctx.log.info(f"removed {target}: not part of this release")
    for target, content in sorted(plaintexts.items()):
        write_private(checkout / target, content)
    if plaintexts:
        ctx.log.info(f"wrote {', '.join(sorted(plaintexts))} (0600, untracked)")
    ctx.deploy.decrypted_files = sorted(plaintexts)
    ctx.save()


def restore_previous(ctx: DeployContext, previous: str) -> None:
    """The revert: the previous release's plaintexts back, this release's gone."""
    install(ctx, decrypt_release(ctx, previous, "revert"), None)


def key_file(environ: dict[str, str]) -> str | None:
    """The age key file when it is set and readable."""
    path = environ.get(KEY_VARIABLE) or os.environ.get(KEY_VARIABLE)
    return path if path and os.access(path, os.R_OK) else None


def _files_at(ctx: DeployContext, rev: str | None) -> list[str]:
    return encrypted_files(ctx.runner, ctx.environment.path, rev) if rev else []


def _values(plaintexts: dict[str, bytes]) -> list[str]:
    """The secret values to mask: each line's value (KEY=value, key: value) and whole lines."""
    found = []
    for content in plaintexts.values():
        for line in content.decode("utf-8", "replace").splitlines():
            for separator in ("=", ":"):
                if separator in line:
                    value = line.split(separator, 1)[1].strip().strip("'\"")
                    if len(value) >= MASK_MIN_LENGTH:
                        found.append(value)
    return found
