"""argv of the doctor's own probes: all read-only, none touches the working tree (its
`git ls-remote` is the one of jobs/triggers/remote.py)."""

from __future__ import annotations

from pathlib import Path


def git_dir(path: Path) -> list[str]:
    return ["git", "-C", str(path), "rev-parse", "--git-dir"]


def remote_url(path: Path, remote: str) -> list[str]:
    return ["git", "-C", str(path), "remote", "get-url", "--", remote]


def docker_version() -> list[str]:
    return ["docker", "version", "--format", "{{.Server.Version}}"]
