"""A small stack for the swarm bed: Caddy in front of a two-replica web service, in git.

- `web`: busybox httpd serving /version (which release answered), /healthz (its healthcheck)
  and /motd (a Swarm config, so configs change between releases); built on the worker's engine
  from the busybox test image, pushed to the bed's registry by deployhook; `endpoint_mode:
  dnsrr` (the bed has no IPVS), `order: start-first`, `failure_action: rollback`.
- `proxy`: Debian's Caddy on busybox, its Caddyfile a Swarm config, published in host mode on
  node 1 and brought to loopback by the bed's forwarder; it resolves `web` on every new
  connection and retries a refused dial (lb_try_duration).
Releases are commits to a real git origin; the deploy checkout is a clone of it.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import git_repo
from tests.support.bed_layout import RepoLayout
from tests.support.commands import BedError, run
from tests.support.docker_engine import Engine
from tests.support.images import (
    IMPORT_CHANGES,
    base_key,
    base_tarball,
    build_busybox_image,
    image_exists,
)
from tests.support.swarm_bed import SwarmBed, SwarmNode

PROXY_PORT = 8080
CADDYFILE = """\
{
	admin off
	auto_https off
}
:8080 {
	reverse_proxy web:8000 {
		lb_try_duration 10s
		lb_try_interval 50ms
		transport http {
			dial_timeout 250ms
		}
	}
}
"""
WEB_DOCKERFILE = """\
ARG BASE
FROM ${BASE}
COPY www /www
COPY migrate.sql /migrate.sql
CMD ["httpd", "-f", "-p", "8000", "-h", "/www"]
"""
PSQL_DOCKERFILE = """\
ARG BASE
FROM ${BASE}
COPY root /
"""
FIRST_MIGRATION = """\
CREATE TABLE IF NOT EXISTS customers (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO customers (name) SELECT 'customer ' || n FROM generate_series(1, 50) AS n
  WHERE NOT EXISTS (SELECT 1 FROM customers);
"""
MIGRATE_COMMAND = [
    "psql", "--no-psqlrc", "-h", "db", "-U", "postgres", "-d", "app",
    "-v", "ON_ERROR_STOP=1", "-f", "/migrate.sql",
]  # fmt: skip
PG = "/usr/lib/postgresql/15/bin"
# The database task: initdb and `app` on first start, open to the stack's network (trust: a
# test bed), then the server in the foreground. The init-time server listens on its socket
# only, as the official image's does: a TCP pg_isready must not take it for the real one.
PG_START = (
    "mkdir -p /data && chown postgres /data && "
    f"su postgres -c '[ -f /data/pg/PG_VERSION ] || ({PG}/initdb -D /data/pg -U postgres "
    '--auth=trust >/dev/null && echo "host all all 0.0.0.0/0 trust" >> /data/pg/pg_hba.conf && '
    f'{PG}/pg_ctl -D /data/pg -w start -o "-c listen_addresses=" >/dev/null && '
    f"{PG}/createdb -U postgres app && "
    f"{PG}/pg_ctl -D /data/pg -w stop >/dev/null)' && "
    f"exec su postgres -c '{PG}/postgres -D /data/pg -c listen_addresses=*'"
)
CADDY_DOCKERFILE = """\
ARG BASE
FROM ${BASE}
COPY caddy /usr/bin/caddy
COPY lib /lib
COPY lib64 /lib64
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
"""
CADDY_LIBS = ("/lib/x86_64-linux-gnu/libzstd.so.1", "/lib/x86_64-linux-gnu/libc.so.6")
LOADER = "/lib64/ld-linux-x86-64.so.2"


def database_service(image: str, node: str = "n1") -> str:
    return f"""\
  db:
    image: {image}
    command: ["sh", "-c", {json.dumps(PG_START)}]
    volumes: [pgdata:/data]
    ports:
      - {{target: 5432, published: 5432, mode: host}}
    healthcheck:
      test: ["CMD", "su", "postgres", "-c", "{PG}/pg_isready -h 127.0.0.1"]
      interval: 1s
      retries: 30
    deploy:
      endpoint_mode: dnsrr
      placement: {{constraints: ["node.labels.dh_node == {node}"]}}
"""


def stack_file(
    registry: str,
    stack: str,
    busybox: str,
    proxy_image: str,
    database: str | None = None,
    database_node: str = "n1",
) -> str:
    extra = database_service(database, database_node) if database else ""
    volumes = "volumes:\n  pgdata: {}\n" if database else ""
    return extra.join(_stack_text(registry, stack, busybox, proxy_image).split("@DB@")) + volumes


def _stack_text(registry: str, stack: str, busybox: str, proxy_image: str) -> str:
    return f"""\
version: "3.8"
services:
  proxy:
    image: {proxy_image}
    configs:
      - source: caddyfile
        target: /etc/caddy/Caddyfile
    ports:
      - {{target: {PROXY_PORT}, published: {PROXY_PORT}, mode: host}}
    deploy:
      placement: {{constraints: ["node.labels.dh_node == n1"]}}
@DB@  web:
    image: {registry}/{stack}-web:latest
    build:
      context: ./web
      args: {{BASE: "{busybox}"}}
    configs:
      - source: motd
        target: /www/motd
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/healthz"]
      interval: 1s
      timeout: 1s
      retries: 3
    stop_grace_period: 2s
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      update_config: {{order: start-first, parallelism: 1, failure_action: rollback}}
      rollback_config: {{order: start-first, parallelism: 1}}
configs:
  caddyfile:
    file: ./proxy/Caddyfile
  motd:
    file: ./web/motd.txt
"""


def proxy_image(engine: Engine, registry: str) -> str:
    """Caddy on the busybox image, pushed to the bed's registry; its name there."""
    name = f"{registry}/dh-caddy:1"
    busybox = build_busybox_image(engine.env)
    caddy = shutil.which("caddy")
    if caddy is None:
        raise BedError("expected caddy on PATH; apt-get install caddy")
    with tempfile.TemporaryDirectory(prefix="dh-swarm-caddy-") as scratch:
        context = Path(scratch)
        shutil.copy(caddy, context / "caddy")
        for library in (*CADDY_LIBS, LOADER):
            target = context / library.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(library, target)
        (context / "Dockerfile").write_text(CADDY_DOCKERFILE)
        build = ["docker", "build", "-q", "--build-arg", f"BASE={busybox}", "-t", name]
        run([*build, str(context)], env=engine.env, timeout=300)
    run(["docker", "push", "-q", name], env=engine.env, timeout=300)
    return name


def psql_image(engine: Engine, busybox: str, name: str = "deployhook-test-psql:1") -> str:
    """busybox plus the host's psql and every library it links: a small migration runner."""
    if image_exists(name, engine.env):
        return name
    psql = f"{PG}/psql"
    libraries = [
        part
        for line in run(["ldd", psql]).stdout.splitlines()
        for part in line.split()
        if part.startswith("/")
    ]
    with tempfile.TemporaryDirectory(prefix="dh-psql-") as scratch:
        root = Path(scratch) / "root"
        for source in [*libraries, psql]:
            target = root / source.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
        (root / "usr/bin").mkdir(parents=True, exist_ok=True)
        (root / "usr/bin/psql").symlink_to(psql)
        (Path(scratch) / "Dockerfile").write_text(PSQL_DOCKERFILE)
        build = ["docker", "build", "-q", "--build-arg", f"BASE={busybox}", "-t", name]
        run([*build, scratch], env=engine.env, timeout=300)
    return name


def postgres_image(bed: SwarmBed, node: SwarmNode) -> str:
    """The Debian base (PostgreSQL 15) imported into the database's node alone, named under the
    registry (which lacks it: the node's pull fails and Swarm runs its local copy)."""
    name = f"{bed.registry}/dh-postgres:{base_key()}"
    changes = [part for change in IMPORT_CHANGES for part in ("--change", change)]
    run(["docker", "import", *changes, str(base_tarball()), name], env=node.env, timeout=600)
    return name


@dataclass
class SwarmApp(RepoLayout):
    bed: SwarmBed
    engine: Engine
    root: Path
    stack: str
    proxy_port: int  # on loopback, through the bed's forwarder to node 1's published port
    v1: str = ""

    database_port: int = 0  # on loopback, to the database task's published port (with one)
    database_node: SwarmNode | None = None  # the node the database is pinned to (with one)

    @classmethod
    def create(
        cls,
        bed: SwarmBed,
        engine: Engine,
        root: Path,
        database: bool = False,
        database_node: int = 1,
    ) -> SwarmApp:
        """`database_node`: the node (1 is the manager) PostgreSQL is pinned to."""
        stack = f"dhs{secrets.token_hex(3)}"
        app = cls(bed, engine, root, stack, bed.forward(bed.manager, PROXY_PORT))
        busybox = build_busybox_image(engine.env)
        postgres = None
        if database:
            app.database_node = bed.nodes[database_node - 1]
            busybox = psql_image(engine, busybox)  # the web image can run its migration
            postgres = postgres_image(bed, app.database_node)
            app.database_port = bed.forward(app.database_node, 5432)
        template = root / "template"
        (template / "web" / "www").mkdir(parents=True)
        (template / "proxy").mkdir()
        proxy = proxy_image(engine, bed.registry)
        files = {
            "stack.yml": stack_file(
                bed.registry, stack, busybox, proxy, postgres, app.database_label
            ),
            "web/migrate.sql": FIRST_MIGRATION,
            "proxy/Caddyfile": CADDYFILE,
            "web/Dockerfile": WEB_DOCKERFILE,
            "web/www/version": "1\n",
            "web/www/healthz": "ok\n",
            "web/motd.txt": "motd 1\n",
        }
        for relative, content in files.items():
            (template / relative).write_text(content)
        app.v1 = git_repo.create_origin(template, app.origin, app.author, "Swarm app v1")
        git_repo.git(root, "clone", "--quiet", app.origin.as_uri(), str(app.checkout))
        if postgres:
            app.start_database(postgres)
        return app

    @property
    def database_label(self) -> str:
        return self.database_node.label if self.database_node else "n1"

    def start_database(self, image: str) -> None:
        """The stack's database alone, by hand, as a team has it before deployhook deploys."""
        path = self.root / "database.yml"
        service = database_service(image, self.database_label)
        path.write_text(f'version: "3.8"\nservices:\n{service}volumes:\n  pgdata: {{}}\n')
        deploy = ["stack", "deploy", "--resolve-image", "never", "-c", str(path), self.stack]
        self.bed.docker(self.bed.manager, *deploy)
        deadline = time.monotonic() + 120
        argv = ["pg_isready", "-h", "127.0.0.1", "-p", str(self.database_port), "-d", "app"]
        while run(argv, check=False, timeout=10).returncode != 0:
            if time.monotonic() > deadline:
                raise BedError(f"the stack's database did not answer within 120 s: {argv}")
            time.sleep(0.5)

    def commit(self, files: dict[str, str | None], message: str) -> str:
        return git_repo.commit(self.author, files, message, "main")

    def release(self, version: str, healthy: bool = True, motd: str | None = None) -> str:
        """A commit whose web answers `version`; unhealthy: no /healthz, yet it serves."""
        files: dict[str, str | None] = {"web/www/version": f"{version}\n"}
        files["web/www/healthz"] = "ok\n" if healthy else None
        if motd is not None:
            files["web/motd.txt"] = f"{motd}\n"
        return self.commit(files, f"release {version}")

    def environment_config(self, **changes: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "trigger": {"branch": "main"},
            "path": str(self.checkout),
            "compose": {"files": ["stack.yml"], "project": self.stack},
            "engine": "swarm",
            "docker_host": self.bed.manager.host,
            "zero_downtime": ["web"],
            "health": {
                "url": f"http://127.0.0.1:{self.proxy_port}/healthz",
                "timeout": 60,
                "interval": 0.5,
            },
            "swarm": {"update_timeout": 180},
        }
        config.update(changes)
        return config

    def get(self, path: str) -> str:
        url = f"http://127.0.0.1:{self.proxy_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return str(answer.read().decode())

    def service_specs(self) -> dict[str, dict[str, Any]]:
        """service -> its spec as the manager has it (`docker service inspect`)."""
        manager = self.bed.manager
        label = f"label=com.docker.stack.namespace={self.stack}"
        ids = self.bed.docker(manager, "service", "ls", "-q", "--filter", label).split()
        if not ids:
            return {}
        found = json.loads(self.bed.docker(manager, "service", "inspect", *ids))
        return {s["Spec"]["Name"].removeprefix(f"{self.stack}_"): s for s in found}

    def service_images(self) -> dict[str, str]:
        """service -> the image its spec names (with the digest Swarm pinned)."""
        return {
            name: spec["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
            for name, spec in self.service_specs().items()
        }

    def config_names(self, service: str) -> list[str]:
        template = self.service_specs()[service]["Spec"]["TaskTemplate"]["ContainerSpec"]
        return sorted(item["ConfigName"] for item in template.get("Configs") or [])

    def dump(self) -> str:
        """The database as pg_dump prints it (schema and data), through the loopback forward."""
        argv = ["pg_dump", "--no-password", "-h", "127.0.0.1", "-p", str(self.database_port)]
        text = run([*argv, "-U", "postgres", "app"], timeout=120).stdout
        # pg_dump's \restrict lines carry a random key per dump: not the database's content.
        return "".join(
            line
            for line in text.splitlines(keepends=True)
            if not line.startswith(("\\restrict", "\\unrestrict"))
        )

    def database_config(self) -> dict[str, Any]:
        url = f"postgresql://postgres@127.0.0.1:{self.database_port}/app"
        return {
            "database": {"url": url, "name": "app", "user": "postgres"},
            "migrate": {"service": "web", "command": MIGRATE_COMMAND, "version_query": None},
        }

    def service_database_config(self, rehearse: bool = False) -> dict[str, Any]:
        """The database as the stack's service `db`: deployhook runs its commands in the task's
        container, on its node's engine (swarm.nodes names it by ID: the bed's nodes share one
        hostname)."""
        node = self.database_node
        assert node is not None, "an app made with database=True"
        migrate: dict[str, Any] = {
            "service": "web", "command": MIGRATE_COMMAND, "version_query": None,
        }  # fmt: skip
        if rehearse:
            migrate["rehearse"] = True
        return {
            "database": {"service": "db", "name": "app", "user": "postgres"},
            "migrate": migrate,
            "swarm": {"update_timeout": 180, "nodes": {node.node_id: node.host}},
        }

    def database_container(self) -> str:
        """The id of the database task's container on its node."""
        node = self.database_node
        assert node is not None
        label = f"label=com.docker.swarm.service.name={self.stack}_db"
        return self.bed.docker(node, "ps", "-q", "--no-trunc", "--filter", label).strip()
