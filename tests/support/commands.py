"""Running the test bed's own commands: argv only, checked, with the output tail on failure."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class BedError(RuntimeError):
    """The Docker test bed could not be set up; the message says what failed and what to check."""


def tail(text: str | bytes | None, lines: int = 30) -> str:
    """The last `lines` lines of a command's output, for error messages."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    input_text: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `argv`; with `check`, a non-zero exit raises BedError naming the command and output."""
    try:
        result = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            timeout=timeout,
            input=input_text,
            capture_output=True,
            text=True,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BedError(
            f"{' '.join(argv)}: expected to finish within {timeout} s, it did not\n"
            f"{tail(error.stdout)}\n{tail(error.stderr)}"
        ) from error
    if check and result.returncode != 0:
        raise BedError(
            f"{' '.join(argv)}: expected exit 0, got {result.returncode}\n"
            f"stdout:\n{tail(result.stdout)}\nstderr:\n{tail(result.stderr)}"
        )
    return result


def mounts_below(directory: Path) -> list[Path]:
    """Mount points at or under `directory`, deepest first (the order to unmount them in)."""
    root = str(directory.resolve())
    found: list[Path] = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        # Field 2 is the mount point, with spaces and the like escaped as octal.
        point = line.split()[1].encode().decode("unicode_escape")
        if point == root or point.startswith(root + "/"):
            found.append(Path(point))
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def unmount_below(directory: Path) -> None:
    """Unmount whatever a crashed engine or debootstrap left mounted under `directory`.

    Removing a tree that still has /proc or an overlay mounted inside it would reach into the
    mounted file system, so every removal of such a tree goes through here first.
    """
    for point in mounts_below(directory):
        run(["umount", "--lazy", str(point)], check=False, timeout=30)
    left = mounts_below(directory)
    if left:
        raise BedError(f"expected nothing mounted under {directory}, got {left}; umount them")
