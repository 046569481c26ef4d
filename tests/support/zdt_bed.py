"""The zero-downtime matrix's bed: tests/zdt_app behind three real proxies, and its clients.

`ProxyBed` is the app's origin, deploy checkout and running stack (api and the three proxies
on a Compose bridge network: Caddy resolving per request, Caddy with `dynamic a`, nginx with a
resolver; only the proxies publish a port, on 127.0.0.1). `Clients` are the users of one
proxy: one opens a new connection per request, one keeps its connection alive, and optionally
two loops of 5 s requests; every answer names the version that served it, and every failure
is kept. `Users` are the clients of every proxy at once, during one deploy.
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import git_repo
from tests.support.bed_layout import RepoLayout
from tests.support.commands import BedError, run
from tests.support.docker_engine import Engine
from tests.support.sample_commits import Commits
from tests.support.web import free_port

TEMPLATE = Path(__file__).resolve().parent.parent / "zdt_app"


# The matrix's columns: the Compose services of tests/zdt_app/docker-compose.yml, each with
# its configuration in tests/zdt_app/proxy/ (docs/zero-downtime.md).
PROXIES = ("caddy", "caddy-dynamic", "nginx")


def _free_ports() -> dict[str, int]:
    return {proxy: free_port() for proxy in PROXIES}


@dataclass
class ProxyBed(RepoLayout, Commits):
    engine: Engine
    compose_command: list[str]
    root: Path
    project: str = field(default_factory=lambda: f"dhm-{secrets.token_hex(4)}")
    ports: dict[str, int] = field(default_factory=_free_ports)  # proxy -> its port
    replicas: int = 1
    template: Path = TEMPLATE  # the app's files at v1 (a variant: a copy of TEMPLATE, changed)

    @property
    def port(self) -> int:
        """Caddy's (resolving per request): the proxy a single-proxy test uses."""
        return self.ports["caddy"]

    def start(self, base_image: str, caddy_image: str, nginx_image: str) -> None:
        """Origin at v1, the checkout with its .env, the stack answering v1 through every proxy."""
        git_repo.create_origin(self.template, self.origin, self.author, "Matrix app v1")
        git_repo.git(self.root, "clone", "--quiet", self.origin.as_uri(), str(self.checkout))
        (self.checkout / ".env").write_text(
            f"COMPOSE_PROJECT_NAME={self.project}\nBASE_IMAGE={base_image}\n"
            f"CADDY_IMAGE={caddy_image}\nNGINX_IMAGE={nginx_image}\n"
            f"CADDY_PORT={self.ports['caddy']}\nCADDY_DYNAMIC_PORT={self.ports['caddy-dynamic']}\n"
            f"NGINX_PORT={self.ports['nginx']}\nAPI_REPLICAS={self.replicas}\n"
        )
        self.compose("build")
        self.compose("run", "--rm", "--no-deps", "-T", "api", "python3", "-m", "app.migrate")
        self.compose("up", "-d", "--wait")
        deadline = time.monotonic() + 60
        while self.versions() != dict.fromkeys(PROXIES, "v1"):
            if time.monotonic() > deadline:
                raise BedError(f"expected v1 through every proxy, got {self.versions()}")
            time.sleep(0.2)

    def compose(self, *args: str) -> str:
        argv = [*self.compose_command, "-p", self.project, *args]
        return run(argv, env=self.engine.env, cwd=self.checkout, timeout=600).stdout

    def stop(self) -> None:
        self.compose("down", "--timeout", "2")

    def version(self, proxy: str = "caddy") -> str | None:
        """The version answering through `proxy` now, or None."""
        try:
            url = f"http://127.0.0.1:{self.ports[proxy]}/version"
            with urllib.request.urlopen(url, timeout=5) as answer:
                return str(answer.read().decode())
        except OSError:
            return None

    def versions(self) -> dict[str, str | None]:
        """proxy -> the version answering through it now."""
        return {proxy: self.version(proxy) for proxy in PROXIES}

    def api_containers(self) -> list[str]:
        """Full ids of the running api containers."""
        return self.service_containers("api")

    def service_containers(self, service: str, every: bool = False) -> list[str]:
        """Full ids of the service's running containers (`every`: running or not)."""
        listing = run(
            ["docker", "ps", *(["--all"] if every else []), "--no-trunc", "--quiet",
             "--filter", f"label=com.docker.compose.project={self.project}",
             "--filter", f"label=com.docker.compose.service={service}"],
            env=self.engine.env,
        ).stdout  # fmt: skip
        return sorted(listing.split())

    def api_view(self) -> list[str]:
        """Each running api container now: `id health in-name|out last-probe-output`."""
        ids = self.api_containers()
        if not ids:
            return []
        template = (
            "{{slice .Id 0 12}} {{.State.Health.Status}} "
            "{{range .NetworkSettings.Networks}}{{range .Aliases}}{{.}},{{end}}{{end}} "
            '{{with .State.Health}}{{range .Log}}{{.ExitCode}}:{{printf "%.60q" .Output}}|'
            "{{end}}{{end}}"
        )
        lines = run(
            ["docker", "inspect", "--format", template, *ids], env=self.engine.env, check=False
        ).stdout.splitlines()
        view = []
        for line in lines:
            ident, health, aliases, probes = [*line.split(" ", 3), "", "", ""][:4]
            named = "in-name" if "api" in aliases.split(",") else "out"
            last = probes.rstrip("|").rpartition("|")[2]
            view.append(f"{ident} {health} {named} last probe {last or 'none'}")
        return view

    def free_addresses_below_api(self, image: str, count: int) -> list[str]:
        """Leave `count` free addresses of the stack's network below every api container, and
        return the api containers' addresses. Docker hands a (re)connecting container the
        lowest free address: stand-ins take the api containers' addresses and `count` more
        while the api containers are off the network; these come back above them (with the
        aliases they had) and the stand-ins go. Done before the clients start."""
        network = f"{self.project}_default"
        api = self.api_containers()
        aliases = {ident: self._aliases(ident, network) for ident in api}
        for ident in api:
            run(["docker", "network", "disconnect", network, ident], env=self.engine.env)
        stand_ins = [
            run(["docker", "run", "--detach", "--network", network, image, "sleep", "600"],
                env=self.engine.env).stdout.strip()
            for _ in range(len(api) + count)
        ]  # fmt: skip
        for ident in api:
            options = [part for alias in aliases[ident] for part in ("--alias", alias)]
            run(["docker", "network", "connect", *options, network, ident], env=self.engine.env)
        run(["docker", "rm", "--force", *stand_ins], env=self.engine.env)
        return [self._address(ident, network) for ident in api]

    def _aliases(self, container: str, network: str) -> list[str]:
        template = f'{{{{json (index .NetworkSettings.Networks "{network}").Aliases}}}}'
        out = run(["docker", "inspect", "--format", template, container], env=self.engine.env)
        return [alias for alias in json.loads(out.stdout) if not container.startswith(alias)]

    def _address(self, container: str, network: str) -> str:
        template = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
        out = run(["docker", "inspect", "--format", template, container], env=self.engine.env)
        return out.stdout.strip()

    def in_name_and_healthy(self) -> tuple[int, list[str]]:
        """How many api containers Docker's DNS answers `api` with and calls healthy, now;
        and what each running one looked like."""
        view = self.api_view()
        return sum(1 for line in view if " healthy in-name " in line), view

    def release(self, version: str, behaviour: str, schema: int | None = None) -> str:
        files = {"VERSION": f"{version}\n", "BEHAVIOUR": f"{behaviour}\n"}
        if schema is not None:
            files["SCHEMA"] = f"{schema}\n"
        return self.commit(files, f"Release {version} ({behaviour})")

    def environment_config(self, health_via: str = "caddy", timeout: int = 90) -> dict[str, Any]:
        """The environment; its health URL reads through the proxy `health_via`."""
        return {
            "trigger": {"branch": "main"},
            "path": str(self.checkout),
            "compose": {"files": ["docker-compose.yml"], "project": self.project,
                        "command": "docker-compose"},
            "migrate": {"service": "api", "command": ["python3", "-m", "app.migrate"],
                        "when": "before_swap"},
            # port: the api's, so the release is also read on its own containers while the
            # old ones drain (docs/zero-downtime.md, "Judged directly").
            "health": {"url": f"http://127.0.0.1:{self.ports[health_via]}/healthz",
                       "timeout": timeout, "interval": 0.5, "port": 8000},
            "zero_downtime": ["api"],
        }  # fmt: skip


# What the `start_proxy_bed` fixture gives: (root, **options) -> a started bed for a block.
BedStarter = Callable[..., AbstractContextManager[ProxyBed]]


@contextmanager
def running_bed(
    engine: Engine,
    compose_command: list[str],
    root: Path,
    images: tuple[str, str, str],
    **options: Any,
) -> Iterator[ProxyBed]:
    """A started ProxyBed (`images`: the app's base, Caddy, nginx), stopped after the block."""
    bed = ProxyBed(engine, compose_command, root, **options)
    bed.start(*images)
    try:
        yield bed
    finally:
        bed.stop()


@dataclass
class Answer:
    client: str
    started: float
    ended: float
    version: str | None  # None when the request failed
    error: str = ""


@dataclass
class Clients:
    """Users of the proxy during a deploy; `slow` adds two loops of 5 s requests."""

    port: int
    slow: bool = False
    interval: float = 0.02
    timeout: float = 3.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Clients:
        self.start()
        time.sleep(0.5)  # every client has answers from before the deploy
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)  # and from after it
        self.finish()

    def start(self) -> None:
        loops: list[tuple[Any, tuple[Any, ...]]] = [(self._fresh, ()), (self._kept, ())]
        if self.slow:
            loops += [(self._slow, (0.0,)), (self._slow, (2.5,))]
        for target, args in loops:
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)

    def finish(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def failed(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.version is None]

    def versions(self, client: str | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for answer in self.answers:
            if answer.version is not None and client in (None, answer.client):
                counts[answer.version] = counts.get(answer.version, 0) + 1
        return counts

    def _record(self, client: str, started: float, version: str | None, error: str = "") -> None:
        self.answers.append(Answer(client, started, time.monotonic(), version, error))

    def _fresh(self) -> None:
        """A new connection per request (urllib sends Connection: close)."""
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                url = f"http://127.0.0.1:{self.port}/version"
                with urllib.request.urlopen(url, timeout=self.timeout) as answer:
                    self._record("fresh", started, answer.read().decode())
            except Exception as error:  # noqa: BLE001 - every way a request fails counts
                self._record("fresh", started, None, f"{type(error).__name__}: {error}")
            self._stop.wait(self.interval)

    def _kept(self) -> None:
        """One keep-alive connection, opened again only after a failure (which counts)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                connection.request("GET", "/version")
                answer = connection.getresponse()
                body = answer.read().decode()
                if answer.status != 200:
                    raise RuntimeError(f"status {answer.status}: {body[:80]}")
                if answer.getheader("Connection", "").lower() == "close":
                    connection.close()  # the proxy closed it politely: not a failure
                self._record("kept", started, body)
            except Exception as error:  # noqa: BLE001 - every way a request fails counts
                self._record("kept", started, None, f"{type(error).__name__}: {error}")
                connection.close()
            self._stop.wait(self.interval)
        connection.close()

    def _slow(self, delay: float) -> None:
        """5 s requests back to back, so one is in flight whenever the swap happens."""
        self._stop.wait(delay)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                url = f"http://127.0.0.1:{self.port}/slow?s=5"
                with urllib.request.urlopen(url, timeout=30) as answer:
                    self._record("slow", started, answer.read().decode())
            except Exception as error:  # noqa: BLE001 - every way a request fails counts
                self._record("slow", started, None, f"{type(error).__name__}: {error}")


@dataclass
class Users:
    """The clients of every proxy, all during one deploy: proxy -> its Clients."""

    ports: dict[str, int]
    slow: bool = False
    by_proxy: dict[str, Clients] = field(default_factory=dict)
    swap_log: list[str] = field(default_factory=list)  # the deploy's swap, for a failure

    def __enter__(self) -> Users:
        self.by_proxy = {proxy: Clients(port, slow=self.slow) for proxy, port in self.ports.items()}
        for clients in self.by_proxy.values():
            clients.start()
        time.sleep(0.5)  # every client has answers from before the deploy
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)  # and from after it
        for clients in self.by_proxy.values():
            clients.finish()
