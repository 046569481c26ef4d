"""Redis with replicas and Sentinel, as real Debian processes on 127.0.0.1, for one test module.

A master, `replicas` replicas and three sentinels (quorum 2) watching the master under the
name `deployhook`. Failure detection is fast (1 s) so that a failover takes seconds. Every
process is this test's own child and is stopped by its pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import yaml

from tests.support.web import free_port

MASTER_NAME = "deployhook"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


@dataclass
class Node:
    """One redis-server (master or replica) or redis-sentinel process."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, **options: Any) -> redis.Redis:
        return redis.Redis("127.0.0.1", self.port, socket_timeout=5, **options)

    def signal(self, number: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(number)

    def kill(self) -> None:
        self.signal(signal.SIGCONT)  # a stopped process would not die until continued
        self.signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class SentinelBed:
    servers: list[Node]  # servers[0] started as the master
    sentinels: list[Node]
    _root: Path = field(repr=False, default=Path())

    def config(self, **options: Any) -> dict[str, Any]:
        """The `redis` section of a deployhook configuration that uses this bed."""
        sentinel = {"sentinels": [node.address for node in self.sentinels], "master": MASTER_NAME}
        return {"sentinel": sentinel, **options}

    def master(self) -> Node:
        """The server the sentinels name as master now."""
        _host, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(MASTER_NAME)
        return next(node for node in self.servers if node.port == int(port))

    def replicas_of_master(self) -> int:
        info = self.master().client().info("replication")
        return sum(
            1
            for name, value in info.items()
            if name.startswith("slave") and isinstance(value, dict)
            if value.get("state") == "online"
        )

    def wait_settled(self, replicas: int, timeout: float = 60) -> Node:
        """Wait until every sentinel names one master that `replicas` replicas stream from,
        and each sentinel knows the others and the replicas; return that master."""
        deadline = time.monotonic() + timeout
        last = "nothing asked yet"
        while time.monotonic() < deadline:
            try:
                last = self._settled(replicas)
                if not last:
                    return self.master()
            except (redis.RedisError, StopIteration) as error:
                last = repr(error)
            time.sleep(0.2)
        raise AssertionError(f"the Sentinel bed did not settle within {timeout} s: {last}")

    def _settled(self, replicas: int) -> str:
        masters = set()
        for node in self.sentinels:
            if node.process.poll() is not None:
                continue
            state = node.client().sentinel_master(MASTER_NAME)
            masters.add(state["port"])
            if state["num-other-sentinels"] < len(self.sentinels) - 1 or state["flags"] != "master":
                return f"sentinel {node.port}: {state['flags']}, {state['num-other-sentinels']}"
            known = node.client().sentinel_slaves(MASTER_NAME)
            good = [r for r in known if r["flags"] == "slave" and r["master-link-status"] == "ok"]
            if len(good) < replicas:
                return f"sentinel {node.port} sees {len(good)} good replicas"
        if len(masters) != 1:
            return f"sentinels disagree: {masters}"
        online = self.replicas_of_master()
        return "" if online >= replicas else f"{online} replicas online"


@contextmanager
def sentinel_bed(root: Path, replicas: int = 2) -> Iterator[SentinelBed]:
    """Start the master, its replicas and three sentinels; stop them all on exit."""
    bed = SentinelBed(servers=[], sentinels=[], _root=root)
    try:
        master = _server(root / "s0", None)
        bed.servers.append(master)
        for index in range(1, replicas + 1):
            bed.servers.append(_server(root / f"s{index}", master.port))
        for index in range(3):
            bed.sentinels.append(_sentinel(root / f"t{index}", master.port))
        bed.wait_settled(replicas)
        yield bed
    finally:
        for node in [*bed.sentinels, *bed.servers]:
            node.kill()


def _server(directory: Path, master_port: int | None) -> Node:
    directory.mkdir(parents=True)
    port = free_port()
    argv = [_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--dir", str(directory), "--save", "", "--appendonly", "no"]
    # Without the default 5 s pause before a full sync, a replica joins (or rejoins a new
    # master after a failover) within a second.
    argv += ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]
    argv += ["--logfile", str(directory / "redis.log")]
    if master_port is not None:
        argv += ["--replicaof", "127.0.0.1", str(master_port)]
    return _start(argv, port, directory)


def _sentinel(directory: Path, master_port: int) -> Node:
    directory.mkdir(parents=True)
    port = free_port()
    conf = directory / "sentinel.conf"  # sentinel rewrites its file: one of its own each
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\nlogfile {directory / 'sentinel.log'}\n"
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {MASTER_NAME} 1\n"
    )
    return _start([_binary("redis-sentinel"), str(conf)], port, directory)


def _binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else "")
    if not found:
        raise RuntimeError(f"{name} is not installed: run scripts/install-system-packages test")
    return found


def _start(argv: list[str], port: int, directory: Path) -> Node:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = Node(port, directory, process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited with {process.returncode}; see {directory}")
        try:
            if node.client().ping():
                return node
        except redis.ConnectionError:
            time.sleep(0.05)
    node.kill()
    raise RuntimeError(f"{argv[0]} did not answer on {port} within 10 s")


def two_host_config(tmp_path: Path, bed: SentinelBed) -> Path:
    """A configuration file: project `crm` with environment on-a on host a and on-b on host b,
    both deployed by pushes to main, and Redis through this bed's sentinels."""
    environments = {
        name: {
            "host": host,
            "trigger": {"branch": "main"},
            "path": str(tmp_path / name),
            "compose": {"files": ["compose.yml"], "project": f"crm_{host}"},
            "health": {"url": "http://127.0.0.1:8000/healthz"},
        }
        for name, host in (("on-a", "a"), ("on-b", "b"))
    }
    project = {"repo": "github.com/acme/crm", "provider": "github", "secret": "${GITHUB_SECRET}"}
    config = {
        "state_dir": str(tmp_path / "state"),
        "projects": {"crm": {**project, "environments": environments}},
        "redis": bed.config(),
    }
    path = tmp_path / "deployhook.yml"
    path.write_text(yaml.safe_dump(config))
    return path
