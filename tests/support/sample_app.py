"""A running instance of the sample app: origin, deploy checkout, and its Compose stack.

Each instance has its own ports, compose project, git repositories and named volume, so tests
never see each other's state. `deploy_by_hand` is the user's runbook (build, up, migrate) with
plain compose commands: it puts the stack in a known state; it is not the pipeline under test.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from tests.support import git_repo
from tests.support.bed_layout import RepoLayout
from tests.support.commands import BedError, run
from tests.support.docker_engine import Engine
from tests.support.sample_api import ApiClient
from tests.support.sample_commits import Commits
from tests.support.web import free_port

TEMPLATE = Path(__file__).resolve().parent.parent / "sample_app"
# The health deadline of a deploy whose revert cannot bring a healthy version back either: it
# still fails "not healthy within", both ways, without waiting 30 s each time.
SHORT_HEALTH = 6.0
# The health deadline of a deploy that must fail its health check while its revert brings the
# previous version back healthy under the same deadline (about 2 s after its start on a quiet
# machine: the api's healthcheck interval). 6 s flaked under load; 30 s only waited longer.
FAILING_HEALTH = 15.0
# pg_dump 15.14+ brackets its output with \restrict KEY / \unrestrict KEY, a fresh random key
# each time; dump() leaves those lines out so equal databases give equal dumps.
_RESTRICT_PREFIXES = ("\\restrict ", "\\unrestrict ")


@dataclass
class SampleApp(RepoLayout, ApiClient, Commits):
    engine: Engine
    compose_command: list[str]
    base_image: str
    root: Path
    project: str
    api_port: int
    pg_port: int
    v1: str = ""  # the sha of the initial commit, set by create()
    compose_file: ClassVar[str] = "docker-compose.yml"

    @property
    def origin_url(self) -> str:
        return self.origin.as_uri()

    @property
    def backups_dir(self) -> Path:
        return self.root / "backups"

    @classmethod
    def create(
        cls, engine: Engine, compose_command: list[str], base_image: str, root: Path
    ) -> SampleApp:
        """Origin at v1, a deploy checkout with its .env, and the stack running and healthy."""
        app = cls(
            engine, compose_command, base_image, root,
            project=f"dht-{secrets.token_hex(4)}", api_port=free_port(), pg_port=free_port(),
        )  # fmt: skip
        app.start(f"API_PORT={app.api_port}\nPG_PORT={app.pg_port}\n")
        return app

    def start(self, env_lines: str) -> None:
        """Origin at v1, the checkout with .env (project, base image, `env_lines`), stack up."""
        self.v1 = git_repo.create_origin(TEMPLATE, self.origin, self.author, "Sample app v1")
        git_repo.git(self.root, "clone", "--quiet", self.origin_url, str(self.checkout))
        (self.checkout / ".env").write_text(
            f"COMPOSE_PROJECT_NAME={self.project}\nBASE_IMAGE={self.base_image}\n{env_lines}"
        )
        self.backups_dir.mkdir()
        try:
            self.deploy_by_hand()
        except BedError:
            self.compose("down", "--timeout", "5")  # no half-started stack left behind
            raise

    # -- the stack ------------------------------------------------------------------------

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run compose for this project in the checkout; the result is not checked."""
        argv = [*self.compose_command, "-p", self.project, "-f", self.compose_file, *args]
        return run(argv, env=self.engine.env, cwd=self.checkout, timeout=timeout, check=False)

    def compose_ok(self, *args: str, timeout: float = 600) -> str:
        """Run compose and return its stdout; a failure raises BedError with the output."""
        result = self.compose(*args, timeout=timeout)
        if result.returncode != 0:
            raise BedError(
                f"compose {' '.join(args)}: expected exit 0, got {result.returncode}\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        return result.stdout

    def deploy_by_hand(self, sha: str | None = None, timeout: float = 60) -> None:
        """The runbook: check out `sha` (default: as is), build, up -d, migrate, wait healthy."""
        if sha is not None:
            self.check_out(sha)
        self.compose_ok("build")
        self.compose_ok("up", "-d")
        self.compose_ok("exec", "-T", "api", "alembic", "upgrade", "head")
        self.wait_healthy(timeout)

    def check_out(self, sha: str) -> None:
        """Fetch and check out `sha` (detached) in the deploy checkout; .env stays."""
        git_repo.git(self.checkout, "fetch", "--quiet", "origin")
        git_repo.git(self.checkout, "checkout", "--quiet", "--detach", sha)

    def stop(self) -> None:
        """Stop and remove the containers; the named volume stays (never `down -v`)."""
        self.compose_ok("down", "--timeout", "10")

    # -- looking at it --------------------------------------------------------------------

    def psql(self, sql: str, user: str = "app", database: str = "app") -> str:
        """Run SQL with psql inside the postgres service; unaligned, tuples only."""
        return self.compose_ok(
            "exec", "-T", "postgres",
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database,
            "-c", sql,
        ).strip()  # fmt: skip

    def psql_as_superuser(self, sql: str) -> str:
        """SQL as the cluster's superuser, on the maintenance database (role attributes etc.)."""
        return self.psql(sql, user="postgres", database="postgres")

    def dump(self) -> str:
        """A plain pg_dump of the app database, the same text for the same contents."""
        text = self.compose_ok("exec", "-T", "postgres", "pg_dump", "-U", "app", "app")
        lines = [line for line in text.splitlines() if not line.startswith(_RESTRICT_PREFIXES)]
        return "\n".join(lines) + "\n"

    def volume_name(self) -> str:
        return f"{self.project}_pgdata"

    def volume_exists(self) -> bool:
        inspect = ["docker", "volume", "inspect", self.volume_name()]
        return run(inspect, env=self.engine.env, check=False).returncode == 0

    def checked_out(self) -> str:
        """The commit the deploy checkout is at."""
        return git_repo.git(self.checkout, "rev-parse", "HEAD")

    def image_ids(self) -> dict[str, str]:
        """Running containers of this project: service name -> id of the image it runs."""
        ids = self.container_ids()
        if not ids:
            return {}
        inspect = ["docker", "inspect", "--format", "{{.Image}}", *ids.values()]
        images = run(inspect, env=self.engine.env).stdout.split()
        return dict(zip(ids, images, strict=True))

    def image_of(self, name: str) -> str | None:
        """The id of the image called `name`, or None when there is none."""
        inspect = ["docker", "image", "inspect", "--format", "{{.Id}}", name]
        result = run(inspect, env=self.engine.env, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def container_ids(self) -> dict[str, str]:
        """Running containers of this project: service name -> full container id."""
        listing = run(
            ["docker", "ps", "--no-trunc",
             "--filter", f"label=com.docker.compose.project={self.project}",
             "--format", '{{.Label "com.docker.compose.service"}} {{.ID}}'],
            env=self.engine.env,
        ).stdout  # fmt: skip
        return dict(line.split() for line in listing.splitlines() if line.strip())

    # -- deployhook's view of it ----------------------------------------------------------

    def environment_config(self, health_timeout: float = 30) -> dict[str, Any]:
        """This instance as one environment of deployhook's YAML configuration.

        `health_timeout`: SHORT_HEALTH where neither the new nor the previous version can ever
        be healthy (a revert that must fail): waiting 30 s twice for that proves nothing more;
        FAILING_HEALTH where only the new one never is (the revert must come back healthy).
        """
        return {
            "trigger": {"branch": "main"},
            "path": str(self.checkout),
            "compose": {
                "files": [self.compose_file],
                "project": self.project,
                "command": "docker-compose",
            },
            "database": {"service": "postgres", "user": "app", "name": "app"},
            "migrate": {"service": "api", "command": ["alembic", "upgrade", "head"]},
            "health": {"url": self.health_url, "timeout": health_timeout, "interval": 0.5},
            "backups": {"dir": str(self.backups_dir), "min_free_mb": 1},
        }
