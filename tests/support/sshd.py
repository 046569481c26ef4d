"""A real OpenSSH server on 127.0.0.1 for one test module: its own port, host key and a
throwaway client key, so git over ssh and `docker_host: ssh://...` meet a real sshd.

Sessions get DOCKER_HOST of the test engine (sshd's SetEnv), so `docker system dial-stdio`
on the "remote" side reaches the private engine, as the engine's own socket on a real host.
The client side: `git_ssh_command` is the deploy-key form a user puts in GIT_SSH_COMMAND;
`bin_dir` holds an `ssh` that reads `client_config` (what a user writes in ~/.ssh/config),
for the docker CLI and SDK, which run plain `ssh` from PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.commands import BedError, run
from tests.support.web import free_port

SSHD = Path("/usr/sbin/sshd")
READY_SECONDS = 15


@dataclass(frozen=True)
class Sshd:
    port: int
    key: Path
    known_hosts: Path
    client_config: Path
    bin_dir: Path

    @property
    def git_ssh_command(self) -> str:
        return (
            f"ssh -i {self.key} -o IdentitiesOnly=yes -o BatchMode=yes"
            f" -o UserKnownHostsFile={self.known_hosts}"
        )

    @property
    def docker_host(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def url(self, path: Path) -> str:
        return f"ssh://root@127.0.0.1:{self.port}{path}"


def _keygen(path: Path) -> None:
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deployhook-test", "-f", str(path)])


def _sshd_config(directory: Path, port: int, docker_host: str) -> Path:
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {directory / 'host_key'}\n"
        f"PidFile {directory / 'sshd.pid'}\nAuthorizedKeysFile {directory / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAllowUsers root\n"
        f"SetEnv DOCKER_HOST={docker_host}\nLogLevel ERROR\n"
        # sftp for restic's sftp: repositories (the off-site copies' tests).
        "Subsystem sftp internal-sftp\n"
    )
    return config


def _client_side(directory: Path, port: int) -> Sshd:
    host_key = (directory / "host_key.pub").read_text().split()
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    key = directory / "client_key"
    client_config = directory / "ssh_config"
    client_config.write_text(
        f"Host 127.0.0.1\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n  BatchMode yes\n"
    )
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {client_config} "$@"\n')
    wrapper.chmod(0o755)
    return Sshd(port, key, known_hosts, client_config, bin_dir)


@contextmanager
def running_sshd(directory: Path, docker_host: str) -> Iterator[Sshd]:
    """sshd on a free port of 127.0.0.1 that lets the throwaway key in as root."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        raise BedError("expected /usr/sbin/sshd and ssh-keygen; apt-get install openssh-server")
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        _keygen(directory / name)
    shutil.copy(directory / "client_key.pub", directory / "authorized_keys")
    port = free_port()
    config = _sshd_config(directory, port, docker_host)
    # sshd refuses to start without its privilege separation directory (systemd makes it).
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = directory / "sshd.log"
    with log.open("ab") as output:
        process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=output)
    sshd = _client_side(directory, port)
    try:
        _wait_until_ready(sshd, process, log)
        yield sshd
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_ready(sshd: Sshd, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    probe = [*sshd.git_ssh_command.split(), "-p", str(sshd.port), "root@127.0.0.1", "true"]
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BedError(f"sshd exited with {process.returncode}: {log.read_text()[-2000:]}")
        answer = subprocess.run(probe, capture_output=True, timeout=20, check=False)
        if answer.returncode == 0:
            return
        time.sleep(0.2)
    process.terminate()
    raise BedError(f"expected sshd to let the test key in within {READY_SECONDS}s: {log}")


def environ_with(sshd: Sshd) -> dict[str, str]:
    """os.environ as a worker set up per docs/production.md: deploy key and ssh config."""
    path = f"{sshd.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "GIT_SSH_COMMAND": sshd.git_ssh_command, "PATH": path}
