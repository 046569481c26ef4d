"""Real age keys and real SOPS files for the tests: `age-keygen` and the sops binary."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from jobs.commands.sops import sops_binary


@dataclass(frozen=True)
class AgeKey:
    path: Path  # the private key file: what SOPS_AGE_KEY_FILE names
    recipient: str  # the public key: what files are encrypted to


def new_age_key(directory: Path, name: str = "age-key.txt") -> AgeKey:
    path = directory / name
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    path.chmod(0o600)
    public = next(
        line.split(": ", 1)[1]
        for line in path.read_text().splitlines()
        if line.startswith("# public key: ")
    )
    return AgeKey(path, public)


def encrypt(plaintext: str, kind: str, key: AgeKey) -> str:
    """`plaintext` (of sops type `kind`: dotenv, yaml, json, binary) encrypted to `key`."""
    argv = [sops_binary(), "--encrypt", "--age", key.recipient, "--input-type", kind]
    done = subprocess.run(
        [*argv, "--output-type", kind, "/dev/stdin"],
        input=plaintext,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout
