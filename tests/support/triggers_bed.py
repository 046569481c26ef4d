"""A tiny Compose stack (busybox httpd, network_mode host) in a real git origin, for the
triggers' end-to-end tests: path filters, polling, pulled images, profiles; and a real
registry (Debian's docker-registry) on 127.0.0.1 for `images: pull`.

Each service serves `/www/health.txt` ("ok" when healthy) and `/www/version.txt` on its own
loopback port, so a deploy's result is read over HTTP like a user would see it.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.support import git_repo
from tests.support.bed_layout import RepoLayout
from tests.support.commands import BedError, run
from tests.support.docker_engine import Engine
from tests.support.web import free_port

DOCKERFILE = "FROM {base}\nCOPY www /www\n"


def service(port: int, *, image: str | None = None, profiles: list[str] | None = None) -> str:
    """One compose service: built from ./web unless `image` is given."""
    source = f"    image: {image}\n" if image else "    build: ./web\n"
    extra = f"    profiles: [{', '.join(profiles)}]\n" if profiles else ""
    # init: httpd as PID 1 ignores SIGTERM, and every stop (each deploy's recreate) waited
    # Docker's 10 s for the SIGKILL; behind tini it stops at once.
    return (
        f"{source}{extra}    network_mode: host\n    init: true\n"
        f'    command: ["httpd", "-f", "-p", "127.0.0.1:{port}", "-h", "/www"]\n'
    )


@dataclass
class Bed(RepoLayout):
    engine: Engine
    compose_command: list[str]
    busybox: str
    root: Path
    project: str = field(default_factory=lambda: f"dht-{secrets.token_hex(4)}")
    port: int = field(default_factory=free_port)

    def create(self, compose_yml: str, version: str = "1") -> str:
        """Origin with the stack at `version`, and the deploy checkout cloned from it."""
        template = self.root / "template"
        (template / "web" / "www").mkdir(parents=True)
        (template / "compose.yml").write_text(compose_yml)
        (template / "web" / "Dockerfile").write_text(DOCKERFILE.format(base=self.busybox))
        (template / "web" / "www" / "health.txt").write_text("ok\n")
        (template / "web" / "www" / "version.txt").write_text(f"{version}\n")
        sha = git_repo.create_origin(template, self.origin, self.author, f"v{version}")
        git_repo.git(self.root, "clone", "--quiet", self.origin.as_uri(), str(self.checkout))
        return sha

    def commit(self, files: dict[str, str | None], message: str, branch: str = "main") -> str:
        return git_repo.commit(self.author, files, message, branch)

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [*self.compose_command, "-p", self.project, "-f", "compose.yml", *args]
        return run(argv, env=self.engine.env, cwd=self.checkout, timeout=300, check=check)

    def start(self, *profiles: str) -> None:
        """The stack as it runs before deployhook's first deploy (built and up by hand)."""
        options = [part for name in profiles for part in ("--profile", name)]
        self.compose(*options, "up", "--detach", "--build")
        self.wait_serving(self.port)

    def stop(self) -> None:
        """Remove the containers (there are no volumes; never `down -v`)."""
        self.compose("--profile", "*", "down", "--timeout", "2", check=False)

    def environment(self, **options: Any) -> dict[str, Any]:
        return {
            "trigger": {"branch": "main"},
            "path": str(self.checkout),
            "compose": {
                "files": ["compose.yml"],
                "project": self.project,
                "command": "docker-compose",
            },
            "health": {
                "url": f"http://127.0.0.1:{self.port}/health.txt",
                "expect_body": "ok",
                "timeout": 15,
                "interval": 0.3,
            },
            "timeouts": {"swap": 120, "build": 300, "fetch": 60},
            **options,
        }

    def wait_serving(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.read(port, "health.txt") == "ok":
                return
            time.sleep(0.2)
        raise BedError(f"expected 127.0.0.1:{port} to serve health.txt, got nothing")

    def version(self, port: int | None = None) -> str | None:
        return self.read(port or self.port, "version.txt")

    @staticmethod
    def read(port: int, name: str) -> str | None:
        try:
            response = requests.get(f"http://127.0.0.1:{port}/{name}", timeout=2)
        except requests.RequestException:
            return None
        return response.text.strip() if response.status_code == 200 else None

    def container_ids(self) -> list[str]:
        out = self.compose("ps", "--quiet").stdout
        return sorted(out.split())


@contextmanager
def running_registry(root: Path) -> Iterator[str]:
    """Debian's docker-registry on a free loopback port; yields its host:port."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    port = free_port()
    storage = Path(tempfile.mkdtemp(prefix="registry-", dir=root))
    config = storage / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {storage / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    log = (storage / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise BedError(f"docker-registry did not answer on {port}; see {log.name}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def publish(engine: Engine, busybox: str, name: str, version: str, health: str = "ok") -> str:
    """What CI does: build an image serving `version` and push it as `name`; return its ID."""
    with tempfile.TemporaryDirectory(prefix="dh-ci-") as context:
        www = Path(context) / "www"
        www.mkdir()
        (www / "health.txt").write_text(f"{health}\n")
        (www / "version.txt").write_text(f"{version}\n")
        # Unique content: no other test's build shares (or builds on) this image's layers.
        (www / "build.txt").write_text(secrets.token_hex(8))
        (Path(context) / "Dockerfile").write_text(DOCKERFILE.format(base=busybox))
        run(["docker", "build", "-q", "-t", name, context], env=engine.env, timeout=300)
    run(["docker", "push", "--quiet", name], env=engine.env, timeout=300)
    inspect = ["docker", "image", "inspect", "--format", "{{.Id}}", name]
    return run(inspect, env=engine.env).stdout.strip()
