"""Which files of a commit are SOPS-encrypted, and where each one's plaintext goes.

`name.sops.ext` and `name.enc.ext` decrypt to `name.ext` beside them (`.env.sops` to `.env`);
a file SOPS encrypted in place under any other name decrypts to `stem.decrypted.ext`. The
plaintext is never a file git tracks at that commit: deployhook refuses to overwrite one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from jobs.commands import sops
from jobs.execution.runner import Runner
from jobs.failures.errors import CommandFailed

INFIXES = ("sops", "enc")
GREP_TIMEOUT = 120.0


def plain_name(path: str) -> str:
    """The repository path the plaintext of the encrypted file `path` is written to."""
    pure = PurePosixPath(path)
    parts = pure.name.split(".")
    for index, part in enumerate(parts):
        if index > 0 and part in INFIXES:
            return str(pure.with_name(".".join(parts[:index] + parts[index + 1 :])))
    return str(pure.with_name(f"{pure.stem}.decrypted{pure.suffix}"))


def encrypted_files(runner: Runner, checkout: Path, rev: str) -> list[str]:
    """The repository paths of the SOPS files at `rev`, sorted (git grep; exit 1 is none)."""
    with tempfile.TemporaryDirectory(prefix="deployhook-sops-") as scratch:
        listing = Path(scratch) / "files"
        result = runner.run(
            sops.encrypted_files(checkout, rev),
            timeout=GREP_TIMEOUT,
            stdout_path=listing,
            check=False,
            quiet=True,
            read_only=True,
        )
        if result.exit_code not in (0, 1):
            raise CommandFailed(result.argv, f"git grep exited {result.exit_code}", result.output)
        lines = listing.read_text().splitlines()
    prefix = f"{rev}:"
    return sorted(line.removeprefix(prefix) for line in lines if line.strip())


def write_private(path: Path, content: bytes) -> None:
    """Write `content` 0600 atomically (a reader sees the old file or the new one, whole):
    decrypted secrets, and the last-good record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
