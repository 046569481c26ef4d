"""The sample app behind a real Caddy on a Compose bridge network (docker-compose.proxy.yml).

Only Caddy publishes a port (127.0.0.1); `api_port` is that port, so every request the tests
and the health probe make goes through the proxy, as a user's would. `Load` is the bounded
client loop that counts failed requests while a deploy runs.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tests.support.commands import run
from tests.support.docker_engine import Engine
from tests.support.sample_app import SampleApp
from tests.support.web import free_port


@dataclass
class ProxiedApp(SampleApp):
    caddy_image: str = ""
    compose_file: ClassVar[str] = "docker-compose.proxy.yml"

    @classmethod
    def create_proxied(
        cls, engine: Engine, compose_command: list[str], images: tuple[str, str], root: Path
    ) -> ProxiedApp:
        """Origin at v1, a checkout with its .env, the stack running and healthy via Caddy."""
        base_image, caddy_image = images
        app = cls(
            engine, compose_command, base_image, root,
            project=f"dhz-{secrets.token_hex(4)}", api_port=free_port(), pg_port=5432,
            caddy_image=caddy_image,
        )  # fmt: skip
        app.start(f"CADDY_IMAGE={caddy_image}\nPROXY_PORT={app.api_port}\n")
        return app

    def containers_of(self, service: str) -> list[str]:
        """Full ids of the running containers of `service`."""
        listing = run(
            ["docker", "ps", "--no-trunc", "--quiet",
             "--filter", f"label=com.docker.compose.project={self.project}",
             "--filter", f"label=com.docker.compose.service={service}"],
            env=self.engine.env,
        ).stdout  # fmt: skip
        return sorted(listing.split())

    def environment_config(self, **changes: Any) -> dict[str, Any]:
        """deployhook's environment for this stack: api swapped without downtime."""
        config = super().environment_config()
        config["zero_downtime"] = ["api"]
        config["migrate"] = {**config["migrate"], "when": "before_swap"}
        config["health"] = {**config["health"], "timeout": 30}
        config.update(changes)
        return config


@dataclass
class Load:
    """GET 127.0.0.1:`port``path` every `interval` s in a thread; count answers other than 200."""

    port: int
    path: str = "/api/v1/version"
    interval: float = 0.005
    timeout: float = 10.0
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    bodies: dict[str, int] = field(default_factory=dict)
    answers: list[tuple[float, str]] = field(default_factory=list)  # (time.monotonic(), body)
    longest_gap: float = 0.0  # seconds between two successful answers
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=self.timeout + 5)

    def _loop(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.is_set():
            self.sent += 1
            started = time.monotonic()
            try:
                url = f"http://127.0.0.1:{self.port}{self.path}"
                with urllib.request.urlopen(url, timeout=self.timeout) as answer:
                    body = answer.read().decode().strip()
                    self.bodies[body] = self.bodies.get(body, 0) + 1
                now = time.monotonic()
                self.answers.append((now, body))
                self.longest_gap = max(self.longest_gap, now - last_ok)
                last_ok = now
            except Exception as error:  # noqa: BLE001 - every way a request fails counts
                self.failed.append(f"{started:.3f} {type(error).__name__}: {error}")
            self._stop.wait(self.interval)
