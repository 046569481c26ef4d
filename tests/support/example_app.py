"""examples/notes as a user deploys it (docs/first-deploy.md), on the test bed's images.

The example names public images (postgres:15, caddy:2, python:3.12-slim); no registry is
reachable here, so the checkout's .env points PYTHON_IMAGE and POSTGRES_IMAGE at the Debian
base the suite builds with debootstrap, CADDY_IMAGE at that base plus the host's caddy binary
(the `caddy_image` fixture), and tests/example/compose.test-images.yml (untracked in the
checkout, like .env) runs PostgreSQL there the way the postgres image's entrypoint would.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.support import git_repo
from tests.support.bed_layout import RepoLayout
from tests.support.commands import BedError, run
from tests.support.docker_engine import Engine
from tests.support.web import free_port

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE = REPO / "examples" / "notes"
TEST_FILES = REPO / "tests" / "example"
OVERRIDE = "compose.test-images.yml"


@dataclass
class ExampleApp(RepoLayout):
    engine: Engine
    compose_command: list[str]
    root: Path
    project: str
    http_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @classmethod
    def create(
        cls, engine: Engine, compose_command: list[str], base: str, caddy: str, root: Path
    ) -> ExampleApp:
        """The walk-through's steps 1-3: a repository, its clone with .env, started by hand."""
        app = cls(engine, compose_command, root, f"notes-{secrets.token_hex(3)}", free_port())
        git_repo.create_origin(EXAMPLE, app.origin, app.author, "notes v1")
        git_repo.git(root, "clone", "--quiet", app.origin.as_uri(), str(app.checkout))
        (app.checkout / ".env").write_text(
            f"POSTGRES_PASSWORD={secrets.token_hex(8)}\nHTTP_PORT={app.http_port}\n"
            f"PYTHON_IMAGE={base}\nPOSTGRES_IMAGE={base}\nCADDY_IMAGE={caddy}\n"
        )
        for name in (OVERRIDE, "postgres-start.sh"):
            shutil.copy(TEST_FILES / name, app.checkout / name)
        try:
            app.compose_ok("build")
            app.compose_ok("up", "-d")
            app.compose_ok("exec", "-T", "api", "alembic", "upgrade", "head")
            app.wait_healthy()
        except BedError:
            app.stop()
            raise
        return app

    def compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        files = ["--file", "compose.yml", "--file", OVERRIDE]
        argv = [*self.compose_command, "--project-name", self.project, *files, *args]
        return run(argv, env=self.engine.env, cwd=self.checkout, timeout=600, check=False)

    def compose_ok(self, *args: str) -> str:
        result = self.compose(*args)
        if result.returncode != 0:
            raise BedError(f"compose {' '.join(args)} exited {result.returncode}:\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")  # fmt: skip
        return result.stdout

    def health(self) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/healthz", timeout=5)
        body: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
        return body

    def wait_healthy(self, timeout: float = 90) -> dict[str, Any]:
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            try:
                body = self.health()
                if body.get("status") == "ok":
                    return body
                last = str(body)
            except (requests.RequestException, ValueError) as error:
                last = type(error).__name__
            time.sleep(0.5)
        logs = self.compose("logs", "--tail", "30").stdout[-3000:]
        raise BedError(f"expected {self.url}/healthz to answer ok, last: {last}\n{logs}")

    def stop(self) -> None:
        """Containers go; the data volume stays with the engine (never `down -v`)."""
        self.compose("down", "--timeout", "10")
