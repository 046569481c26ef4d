"""The doctor's off-site and SOPS checks: the repository opens with its password, and the age
key decrypts every SOPS file of the checked-out release."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from config import Environment
from jobs.commands import restic, sops
from jobs.doctor.check import Finding, fail, ok, skip
from jobs.doctor.probe import Prober
from jobs.secrets.decrypt import KEY_VARIABLE, sops_reason
from jobs.secrets.files import encrypted_files

OFFSITE_TIMEOUT = 120.0


def check_offsite(target: str, environment: Environment, prober: Prober) -> Finding | None:
    """The repository is reachable and the password opens it; None without backups.offsite."""
    offsite = environment.backups.offsite
    if offsite is None:
        return None
    answer = prober.run(
        restic.cat_config(offsite),
        timeout=OFFSITE_TIMEOUT,
        stdout_path=Path(os.devnull),
        extra_env=restic.repository_env(offsite),
    )
    if answer.ok:
        return ok(target, "offsite", f"{offsite.repository} opens with its password")
    return fail(
        target,
        "offsite",
        f"{offsite.repository}: {answer.output}",
        "check the repository address, its credentials (backups.offsite.env) and the password; "
        "a repository that does not exist yet is created by the first deploy's copy",
    )


def check_sops(target: str, environment: Environment, prober: Prober) -> Finding | None:
    """Every SOPS file at the checkout's HEAD decrypts with the key in SOPS_AGE_KEY_FILE;
    None when the checkout has none (or is not there: the checkout check says so)."""
    checkout = environment.path
    if not checkout.is_dir():
        return None
    try:
        found = encrypted_files(prober.runner, checkout, "HEAD")
    except Exception as error:  # noqa: BLE001 - the doctor reports, never raises
        return skip(target, "sops", f"git cannot list the files ({error})")
    if not found:
        return None
    key = prober.runner.environ.get(KEY_VARIABLE)
    if not key or not os.access(key, os.R_OK):
        return fail(
            target, "sops", f"{', '.join(found)}: {KEY_VARIABLE} is not set or not readable",
            f"set {KEY_VARIABLE} to the age key file in the worker's environment",
        )  # fmt: skip
    failed = []
    with tempfile.TemporaryDirectory(prefix="deployhook-doctor-") as scratch:
        encrypted = Path(scratch) / "encrypted"
        for path in found:
            read = prober.run(sops.blob(checkout, "HEAD", path), timeout=60, stdout_path=encrypted)
            answer = prober.run(
                sops.decrypt(encrypted, sops.file_type(path)),
                timeout=60,
                stdout_path=Path(os.devnull),  # the plaintext goes nowhere
                extra_env={KEY_VARIABLE: key},
            )
            if not (read.ok and answer.ok):
                failed.append(f"{path} ({sops_reason(answer.output) or answer.output})")
    if failed:
        return fail(
            target, "sops", "will not decrypt: " + "; ".join(failed),
            f"encrypt them to the public key of {key} (sops updatekeys), or point "
            f"{KEY_VARIABLE} at the right key",
        )  # fmt: skip
    return ok(target, "sops", f"{KEY_VARIABLE} decrypts {', '.join(found)}")
