"""A real OpenSSH server on 127.0.0.1 for one test module: its own port, host key and a
throwaway client key, so git over ssh and `docker_host: ssh://...` meet a real sshd.
Or one inside a network namespace (`Inside`: a swarm node's), listening on that namespace's
address at 22, which the worker reaches through a loopback forward. Servers started in one
directory share its keys and its client side (one ssh config, one known_hosts pinning each).

Sessions get DOCKER_HOST of the test engine (sshd's SetEnv), so `docker system dial-stdio`
on the "remote" side reaches the private engine, as the engine's own socket on a real host.
The client side: `git_ssh_command` is the deploy-key form a user puts in GIT_SSH_COMMAND;
`bin_dir` holds an `ssh` that reads `client_config` (what a user writes in ~/.ssh/config),
for the docker CLI and SDK, which run plain `ssh` from PATH. That `ssh` also notes each
session in `sessions.log` (the command that started it, and its ssh arguments), so a test can
see which commands went over ssh and to which server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.commands import BedError, run
from tests.support.web import free_port

SSHD = Path("/usr/sbin/sshd")
READY_SECONDS = 15


@dataclass(frozen=True)
class Inside:
    """An sshd in a network namespace: it listens on `address` at 22 there; `forward(22)`
    gives the loopback port of the test's own namespace that reaches it."""

    namespace: str
    address: str
    forward: Callable[[int], int]


@dataclass(frozen=True)
class Session:
    """One ssh connection a client made: the command that ran ssh, and ssh's arguments."""

    parent: str
    arguments: str


@dataclass(frozen=True)
class Sshd:
    port: int
    key: Path
    known_hosts: Path
    client_config: Path
    bin_dir: Path

    @property
    def sessions_log(self) -> Path:
        return self.bin_dir.parent / "sessions.log"

    def sessions(self) -> list[Session]:
        """The ssh sessions clients opened to this server, in order (any user, any command)."""
        if not self.sessions_log.exists():
            return []
        found = []
        for line in self.sessions_log.read_text().splitlines():
            parent, _, arguments = line.partition("\t")
            if f" -p {self.port} " in f" {arguments} ":
                found.append(Session(parent.strip(), arguments))
        return found

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


def _sshd_config(directory: Path, server: Path, address: str, port: int, docker_host: str) -> Path:
    config = server / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress {address}\nHostKey {directory / 'host_key'}\n"
        f"PidFile {server / 'sshd.pid'}\nAuthorizedKeysFile {directory / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAllowUsers root\n"
        f"SetEnv DOCKER_HOST={docker_host}\nLogLevel ERROR\n"
        # sftp for restic's sftp: repositories (the off-site copies' tests).
        "Subsystem sftp internal-sftp\n"
    )
    return config


def _keys(directory: Path) -> None:
    """The host key and the client key every server started in `directory` shares."""
    if (directory / "authorized_keys").exists():
        return
    for name in ("host_key", "client_key"):
        _keygen(directory / name)
    shutil.copy(directory / "client_key.pub", directory / "authorized_keys")


def _client_side(directory: Path, port: int, multiplexed: bool) -> Sshd:
    """Pin this server's host key; the client's config and `ssh` are written once."""
    host_key = (directory / "host_key.pub").read_text().split()
    known_hosts = directory / "known_hosts"
    with known_hosts.open("a") as pinned:
        pinned.write(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    key = directory / "client_key"
    client_config = directory / "ssh_config"
    # multiplexed: one connection per server carries every session, as docs/swarm.md advises
    # for a docker_host at ssh:// (each Docker API call or CLI command is a session).
    shared = (
        f"  ControlMaster auto\n  ControlPath {directory}/cm-%C\n  ControlPersist 30\n"
        if multiplexed
        else ""
    )
    client_config.write_text(
        f"Host 127.0.0.1\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n  BatchMode yes\n{shared}"
    )
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "ssh"
    # The parent's command line: which command (docker stack deploy, or the SDK's Python)
    # opened the session.
    wrapper.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\t%s\\n' \"$(tr '\\0' ' ' </proc/$PPID/cmdline | cut -c1-300)\" \"$*\""
        f" >>{directory / 'sessions.log'}\n"
        f'exec /usr/bin/ssh -F {client_config} "$@"\n'
    )
    wrapper.chmod(0o755)
    return Sshd(port, key, known_hosts, client_config, bin_dir)


@contextmanager
def running_sshd(
    directory: Path, docker_host: str, inside: Inside | None = None, multiplexed: bool = False
) -> Iterator[Sshd]:
    """sshd that lets the throwaway key in as root: on a free port of 127.0.0.1, or `inside`
    a network namespace (reached through its forward). Its sessions get `docker_host`.
    `multiplexed`: the client's ssh shares one connection per server (ControlMaster)."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        raise BedError("expected /usr/sbin/sshd and ssh-keygen; apt-get install openssh-server")
    directory.mkdir(parents=True, exist_ok=True)
    _keys(directory)
    server = Path(tempfile.mkdtemp(prefix="server-", dir=directory))
    argv = [str(SSHD), "-D", "-e"]
    if inside is None:
        port = free_port()
        config = _sshd_config(directory, server, "127.0.0.1", port, docker_host)
    else:
        config = _sshd_config(directory, server, inside.address, 22, docker_host)
        argv = ["nsenter", f"--net=/var/run/netns/{inside.namespace}", *argv]
    # sshd refuses to start without its privilege separation directory (systemd makes it).
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = server / "sshd.log"
    with log.open("ab") as output:
        process = subprocess.Popen([*argv, "-f", str(config)], stderr=output)
    if inside is not None:
        port = inside.forward(22)
    sshd = _client_side(directory, port, multiplexed)
    try:
        _wait_until_ready(sshd, process, log)
        yield sshd
    finally:
        if multiplexed:  # the shared connection's master process, before its server goes
            stop = ["ssh", "-F", str(sshd.client_config), "-O", "exit", "-p", str(port)]
            subprocess.run([*stop, "root@127.0.0.1"], capture_output=True, timeout=20, check=False)
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
