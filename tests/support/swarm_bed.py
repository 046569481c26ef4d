"""A real three-node Docker Swarm on this machine, in network namespaces of the test's own.

Layout (names and the subnet carry a random suffix, so parallel sessions never meet):
- a hub namespace holding a bridge `br0` (172.X.Y.254) and the registry (Debian's
  `docker-registry`, the CNCF distribution registry) on 172.X.Y.254:5000;
- three node namespaces, each joined to the bridge by a veth pair (172.X.Y.1 to .3), each
  running its own dockerd (`nsenter --net=`, not `ip netns exec`, which remounts /sys);
- node 1 is the manager (`swarm init`), nodes 2 and 3 join as workers; each node carries the
  label `dh_node=nI` for placement constraints (all three share this machine's hostname, or
  with `own_hostnames` each engine runs in a UTS namespace of its own, named `dhswX-nI`);
- with `tls`, every engine also listens on its address at 2376 with --tlsverify, its server
  certificate (for its address and 127.0.0.1, where `forward()` brings it) signed by a CA of
  the bed's own (tests/support/tls_certs.py); `SwarmBed.tls` holds the clients' cert paths;
- a forwarder process (tests/support/netns_forward.py) makes the registry answer on
  127.0.0.1:P in the test's own namespace and in every node's, so the worker's engine (which
  builds and pushes) and the nodes (which pull) name it alike, and 127.0.0.1 needs no
  --insecure-registry; `forward()` brings a node's published port to loopback the same way.

Nothing here has an address outside loopback and the bed's own namespaces. Teardown is by
pid (engines, containerd and shims, registry, forwarders), unmount, then `ip netns del`;
a bed whose session died is torn down by the next one (`reap_orphan_beds`).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import tls_certs
from tests.support.commands import BedError, run, tail
from tests.support.docker_engine import engine_env
from tests.support.docker_reaper import alive, kill_containers, release
from tests.support.web import free_port

PARENT = Path("/tmp")
PREFIX = "dhswarm-"
STATE_FILE = "bed.json"
NODES = 3
READY_SECONDS = 60
TLS_PORT = 2376


@dataclass
class SwarmNode:
    index: int
    namespace: str
    address: str
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    node_id: str = ""
    hostname: str = ""  # as the swarm names the node (`docker node ls`)

    @property
    def host(self) -> str:
        return f"unix://{self.directory}/docker.sock"

    @property
    def env(self) -> dict[str, str]:
        environ = engine_env(self.directory)
        environ["DOCKER_CONFIG"] = str(self.directory / "config")
        return environ

    @property
    def label(self) -> str:
        return f"n{self.index}"


@dataclass(frozen=True)
class BedTls:
    """The clients of the bed's TLS engines: each a DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)."""

    directory: Path
    client: Path  # a client certificate the bed's CA signed: let in
    stranger: Path  # the bed's ca.pem, but a client certificate another CA signed: refused

    def server(self, node: SwarmNode) -> Path:
        return self.directory / node.label


@dataclass
class SwarmBed:
    directory: Path
    hub: str
    subnet: str  # the first three octets, e.g. 172.23.41
    nodes: list[SwarmNode]
    registry_port: int = 0
    helpers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    tls: BedTls | None = None

    @property
    def manager(self) -> SwarmNode:
        return self.nodes[0]

    @property
    def registry(self) -> str:
        """The registry's name for every engine of the bed and the worker's: 127.0.0.1:P."""
        return f"127.0.0.1:{self.registry_port}"

    def docker(self, node: SwarmNode, *argv: str, timeout: float = 120) -> str:
        return run(["docker", *argv], env=node.env, timeout=timeout).stdout

    def forward(self, node: SwarmNode, port: int, counted: bool = False) -> int:
        """A loopback port of the test's own namespace that reaches `port` on `node`.
        `counted`: `connections(local)` tells how many connections it has carried."""
        local = free_port()
        log = ["--log", str(self.directory / "forwarded.log")] if counted else []
        self._forwarder([*log, f"-:{local}={node.namespace}:{node.address}:{port}"])
        return local

    def connections(self, local: int) -> int:
        """How many connections the counted forward at `local` has accepted so far."""
        path = self.directory / "forwarded.log"
        return path.read_text().split().count(str(local)) if path.exists() else 0

    def _forwarder(self, rules: list[str]) -> None:
        argv = [sys.executable, "-m", "tests.support.netns_forward", *rules]
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, cwd=Path(__file__).parents[2], start_new_session=True
        )
        self.helpers.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != b"ready":
            raise BedError(f"the namespace forwarder did not start ({rules}): {line!r}")


def ip(*argv: str) -> None:
    run(["ip", *argv], timeout=30)


def in_namespace(namespace: str, *argv: str) -> list[str]:
    return ["nsenter", f"--net=/var/run/netns/{namespace}", *argv]


@contextmanager
def running_swarm(*, tls: bool = False, own_hostnames: bool = False) -> Iterator[SwarmBed]:
    """Set up the namespaces, engines, swarm and registry; yield the bed; tear it all down.

    `tls`: every engine also answers on its address at TLS_PORT, client certificates required.
    `own_hostnames`: each engine in a UTS namespace of its own, so the nodes' hostnames differ.
    """
    if os.geteuid() != 0:
        raise BedError("the swarm bed needs root (network namespaces, dockerd)")
    for tool in ("dockerd", "docker-registry", "nsenter", "ip"):
        if shutil.which(tool) is None:
            raise BedError(
                f"expected {tool} on PATH, got none; run scripts/install-system-packages"
            )
    reap_orphan_beds()
    suffix = secrets.token_hex(3)
    directory = Path(PARENT / f"{PREFIX}{suffix}")
    directory.mkdir()
    subnet = f"172.{random.randint(16, 31)}.{random.randint(0, 255)}"
    hub = f"dhsw{suffix}h"
    nodes = [
        SwarmNode(i, f"dhsw{suffix}{i}", f"{subnet}.{i}", directory / f"n{i}")
        for i in range(1, NODES + 1)
    ]
    bed = SwarmBed(directory, hub, subnet, nodes)
    if own_hostnames:
        for node in nodes:
            node.hostname = f"dhsw{suffix}-n{node.index}"
    state = {"owner": os.getpid(), "namespaces": [hub, *(n.namespace for n in nodes)]}
    (directory / STATE_FILE).write_text(json.dumps(state))
    try:
        _network(bed)
        _registry(bed)
        if tls:
            bed.tls = _certificates(bed)
        for node in nodes:
            _start_engine(node, bed.tls)
        for node in nodes:
            _wait_ready(node)
        _form_swarm(bed)
        yield bed
    finally:
        teardown(bed)


def _network(bed: SwarmBed) -> None:
    ip("netns", "add", bed.hub)
    hub = ["-n", bed.hub]
    ip(*hub, "link", "set", "lo", "up")
    ip(*hub, "link", "add", "br0", "type", "bridge")
    ip(*hub, "addr", "add", f"{bed.subnet}.254/24", "dev", "br0")
    ip(*hub, "link", "set", "br0", "up")
    for node in bed.nodes:
        ip("netns", "add", node.namespace)
        # Both ends are made inside the namespaces: no interface ever appears in ours.
        ip(
            "link", "add", f"vh{node.index}", "netns", bed.hub, "type", "veth",
            "peer", "name", "eth0", "netns", node.namespace,
        )  # fmt: skip
        ip(*hub, "link", "set", f"vh{node.index}", "master", "br0", "up")
        own = ["-n", node.namespace]
        ip(*own, "link", "set", "lo", "up")
        ip(*own, "addr", "add", f"{node.address}/24", "dev", "eth0")
        ip(*own, "link", "set", "eth0", "up")


def _registry(bed: SwarmBed) -> None:
    storage = bed.directory / "registry"
    storage.mkdir()
    config = bed.directory / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {storage}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '{bed.subnet}.254:5000'}}\n"
    )
    log = (bed.directory / "registry.log").open("wb")
    argv = in_namespace(bed.hub, "docker-registry", "serve", str(config))
    bed.helpers.append(
        subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    )
    bed.registry_port = free_port()
    target = f"{bed.hub}:{bed.subnet}.254:5000"
    rules = [f"-:{bed.registry_port}={target}"]
    rules += [f"{node.namespace}:{bed.registry_port}={target}" for node in bed.nodes]
    bed._forwarder(rules)
    deadline = time.monotonic() + READY_SECONDS
    url = f"http://{bed.registry}/v2/"
    while time.monotonic() < deadline:
        with suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.2)
    text = (bed.directory / "registry.log").read_text(errors="replace")
    raise BedError(f"the registry did not answer at {url}:\n{tail(text)}")


def _certificates(bed: SwarmBed) -> BedTls:
    """The bed's CA, a server certificate per engine, a client it signed and a stranger."""
    directory = bed.directory / "tls"
    ca = tls_certs.authority(directory / "ca", "deployhook test swarm CA")
    found = BedTls(
        directory,
        client=tls_certs.client_directory(ca, ca, directory / "client", "deployhook"),
        stranger=tls_certs.client_directory(
            tls_certs.authority(directory / "other-ca", "some other CA"),
            ca,
            directory / "stranger",
            "deployhook",
        ),
    )
    for node in bed.nodes:
        # 127.0.0.1: the name the worker dials it by, through the bed's forwarder.
        tls_certs.server_certificate(ca, found.server(node), [node.address, "127.0.0.1"])
    return found


def _start_engine(node: SwarmNode, tls: BedTls | None) -> None:
    node.directory.mkdir()
    log = (node.directory / "dockerd.log").open("wb")
    dockerd = [
        "dockerd", "--iptables=false", "--bridge=none",
        "--data-root", str(node.directory / "data"), "--exec-root", str(node.directory / "exec"),
        "-H", node.host, "--pidfile", str(node.directory / "docker.pid"),
    ]  # fmt: skip
    if tls is not None:
        server = tls.server(node)
        dockerd += [
            "-H", f"tcp://{node.address}:{TLS_PORT}", "--tlsverify",
            "--tlscacert", str(tls.directory / "ca" / "ca.pem"),
            "--tlscert", str(server / "server-cert.pem"),
            "--tlskey", str(server / "server-key.pem"),
        ]  # fmt: skip
    if node.hostname:
        # unshare and sh exec in turn: the process started here is dockerd itself.
        named = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', node.hostname]
        dockerd = [*named, *dockerd]
    argv = in_namespace(node.namespace, *dockerd)
    node.process = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_ready(node: SwarmNode) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        assert node.process is not None
        if node.process.poll() is not None:
            text = (node.directory / "dockerd.log").read_text(errors="replace")
            raise BedError(f"dockerd of {node.label} exited while starting:\n{tail(text)}")
        if run(["docker", "info"], env=node.env, check=False, timeout=10).returncode == 0:
            return
        time.sleep(0.2)
    raise BedError(f"dockerd of {node.label} did not answer within {READY_SECONDS} s")


def _form_swarm(bed: SwarmBed) -> None:
    manager = bed.manager
    bed.docker(manager, "swarm", "init", "--advertise-addr", manager.address)
    token = bed.docker(manager, "swarm", "join-token", "-q", "worker").strip()
    for node in bed.nodes[1:]:
        join = ["swarm", "join", "--token", token, "--advertise-addr", node.address]
        bed.docker(node, *join, f"{manager.address}:2377")
    for node in bed.nodes:
        node.node_id, node.hostname = bed.docker(
            node, "info", "--format", "{{.Swarm.NodeID}} {{.Name}}"
        ).split()
        label = ["node", "update", "--label-add", f"dh_node={node.label}", node.node_id]
        bed.docker(manager, *label)
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        states = bed.docker(manager, "node", "ls", "--format", "{{.Status}}").split()
        if states.count("Ready") == len(bed.nodes):
            return
        time.sleep(0.5)
    raise BedError(f"expected {len(bed.nodes)} Ready nodes, got {states}")


def teardown(bed: SwarmBed) -> None:
    """Stop everything the bed started, by pid, then unmount and delete the namespaces."""
    for node in bed.nodes:
        if node.process is not None and node.process.poll() is None:
            kill_containers(node.env)
            node.process.terminate()
    for node in bed.nodes:
        if node.process is not None:
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=10)
    for helper in bed.helpers:
        if helper.poll() is None:
            helper.terminate()
            with suppress(subprocess.TimeoutExpired):
                helper.wait(timeout=10)
        if helper.poll() is None:
            helper.kill()
    _remove(bed.directory, [bed.hub, *(node.namespace for node in bed.nodes)])


def _remove(directory: Path, namespaces: list[str]) -> None:
    release(directory)  # containerd, shims and anything else naming the directory; unmounts
    for namespace in namespaces:
        run(["ip", "netns", "del", namespace], check=False, timeout=30)


def reap_orphan_beds() -> None:
    """Tear down beds whose owning session is gone (killed outright, no teardown ran)."""
    for directory in PARENT.glob(f"{PREFIX}*"):
        try:
            state = json.loads((directory / STATE_FILE).read_text())
        except (OSError, ValueError):
            continue
        if alive(int(state["owner"])):
            continue
        for pidfile in directory.glob("n*/docker.pid"):
            with suppress(OSError, ValueError, ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
        _remove(directory, list(state["namespaces"]))


if __name__ == "__main__":  # a manual look: set up, print the layout, wait for Enter
    with running_swarm() as bed:
        print(bed.docker(bed.manager, "node", "ls"))
        print("registry", bed.registry, "dir", bed.directory)
        input("Enter to tear down")
