"""argv of the doctor's git probes: all read-only, none touches the working tree."""

from __future__ import annotations

from pathlib import Path

from config.model import Trigger


def git_dir(path: Path) -> list[str]:
    return ["git", "-C", str(path), "rev-parse", "--git-dir"]


def remote_url(path: Path, remote: str) -> list[str]:
    return ["git", "-C", str(path), "remote", "get-url", "--", remote]


def ls_remote(path: Path, remote: str, trigger: Trigger) -> list[str]:
    """What a fetch would see, with the checkout's credentials, and nothing written locally.

    A branch trigger asks for that branch (so its absence shows); a tag trigger lists tags.
    """
    argv = ["git", "-C", str(path), "ls-remote"]
    if trigger.branch is not None:
        return [*argv, "--heads", "--", remote, f"refs/heads/{trigger.branch}"]
    return [*argv, "--tags", "--", remote]


def docker_version() -> list[str]:
    return ["docker", "version", "--format", "{{.Server.Version}}"]
