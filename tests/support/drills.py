"""Ways to hold a real deploy inside one stage long enough to break it there.

Each holds the stage with the real thing the stage waits on (a table lock pg_dump waits for, a
git hook, a Dockerfile step, a dependency compose waits for, a hanging health endpoint) rather
than with anything inside deployhook.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs.state import keys
from jobs.state.records import DeployStore
from tests.support import git_repo
from tests.support.commands import run
from tests.support.deploying import wait_for

HOLDER = "drill-holder"  # application_name of the session that holds a table lock

# A service `up` waits for (api depends on it being healthy) that turns healthy only late.
GATE_SERVICE = """
  gate:
    image: ${BASE_IMAGE}
    network_mode: host
    command: ["sh", "-c", "sleep 120; touch /tmp/ready; exec sleep 3600"]
    stop_signal: SIGKILL
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 300
"""

SLOW_MIGRATION = '''"""A migration that takes its time, so a test can stop the worker during it."""
import time

import sqlalchemy as sa
from alembic import op

revision = "0002_slow"
down_revision = "0001_customers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))
    time.sleep(SECONDS)
'''


def slow_build(app: Any, seconds: int = 120) -> tuple[str, str]:
    """A commit whose image build sleeps; returns (sha, a word the build prints first)."""
    word = f"drill-{secrets.token_hex(4)}"  # also keeps the step out of the build cache
    step = f"\nRUN echo {word} && sleep {seconds}\n"
    dockerfile = git_repo.read(app.author, "Dockerfile") + step
    return app.commit({"Dockerfile": dockerfile, "VERSION": "slow-build\n"}, "Slow build"), word


def slow_swap(app: Any) -> str:
    """A commit whose api waits for a new service that becomes healthy only after 2 minutes."""
    compose = git_repo.read(app.author, "docker-compose.yml")
    compose = compose.replace(
        "    depends_on:\n      postgres:\n        condition: service_healthy\n",
        "    depends_on:\n      postgres:\n        condition: service_healthy\n"
        "      gate:\n        condition: service_healthy\n",
    ).replace("\nvolumes:\n", GATE_SERVICE + "\nvolumes:\n")
    return app.commit({"docker-compose.yml": compose, "VERSION": "slow-swap\n"}, "Slow swap")


def remove_gate(app: Any) -> None:
    """Remove the gate container a reverted slow_swap leaves behind, stopped."""
    project, service = "com.docker.compose.project", "com.docker.compose.service"
    found = run(
        ["docker", "ps", "--all", "--quiet", "--filter", f"label={project}={app.project}",
         "--filter", f"label={service}=gate"],
        env=app.engine.env,
    ).stdout.split()  # fmt: skip
    if found:
        run(["docker", "rm", "--force", *found], env=app.engine.env)


def slow_migration(app: Any, seconds: int = 120) -> str:
    migration = SLOW_MIGRATION.replace("SECONDS", str(seconds))
    files = {"app/migrations/versions/0002_slow.py": migration, "VERSION": "2\n"}
    return str(app.commit(files, "Slow migration"))


def hold_checkout(checkout: Path, sha: str) -> None:
    """A post-checkout hook that stalls `git checkout` of `sha` (and nothing else)."""
    hook = checkout / ".git" / "hooks" / "post-checkout"
    hook.write_text(f'#!/bin/sh\n[ "$2" = "{sha}" ] && exec sleep 60\nexit 0\n')
    hook.chmod(0o755)


@contextmanager
def table_locked(app: Any, mode: str) -> Iterator[None]:
    """A superuser session holds `LOCK TABLE customers IN <mode> MODE` until the block ends."""
    sql = f"BEGIN; LOCK TABLE customers IN {mode} MODE; SELECT pg_sleep(600);"
    argv = [*app.compose_command, "-p", app.project, "-f", "docker-compose.yml", "exec", "-T"]
    argv += ["-e", f"PGAPPNAME={HOLDER}", "postgres", "psql", "-U", "postgres", "-d", "app"]
    holder = subprocess.Popen(
        [*argv, "-c", sql],
        cwd=app.checkout,
        env=app.engine.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    granted = (
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE a.application_name = 'drill-holder' AND l.relation = 'customers'::regclass "
        "AND l.granted"
    )
    try:
        wait_for(lambda: superuser_sql(app, granted) == "1", 60, "the table lock")
        yield
    finally:
        superuser_sql(
            app,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'drill-holder'",
        )
        holder.wait(timeout=30)


def superuser_sql(app: Any, sql: str) -> str:
    return str(
        app.compose_ok(
            "exec", "-T", "postgres",
            "psql", "-X", "-q", "-A", "-t", "-U", "postgres", "-d", "app", "-c", sql,
        ).strip()
    )  # fmt: skip


def heartbeat_runs_out(store: DeployStore, deploy_id: str, seconds: float = 1.0) -> None:
    """Let the heartbeat of the worker that ran `deploy_id` (just killed) expire in `seconds`
    instead of up to HEARTBEAT_TTL (30 s): the time a killed worker's key takes to expire
    passes faster, and the next start still waits for it to go (jobs/state/workers.py)."""
    worker = store.get(deploy_id).worker
    if not worker:  # a worker killed before it took the deploy has nothing to let run out
        return
    key, left = keys.worker(worker), int(seconds * 1000)
    if store.redis.pttl(key) > left:  # the dead worker renews nothing: no race with a beat
        store.redis.pexpire(key, left)


def last_stage(store: DeployStore, deploy_id: str) -> str | None:
    stages = store.get(deploy_id).stages
    return stages[-1].name if stages else None


def log_mentions(store: DeployStore, deploy_id: str, word: str) -> bool:
    return any(word in line for line in store.log(deploy_id))


def deploy_commands_alive(project: str) -> list[str]:
    """Command lines of compose commands deployhook started for `project` that still run."""
    return [
        " ".join(part.decode(errors="replace") for part in argv)
        for argv in _command_lines()
        if b"--project-name" in argv and project.encode() in argv
    ]


def build_step_running(word: str) -> bool:
    """Is the slow_build step that prints `word` executing now (its shell is a host process)?

    Compose may hold a step's output back until the build ends, so the log cannot tell.
    """
    return any(word.encode() in part for argv in _command_lines() for part in argv)


def _command_lines() -> list[list[bytes]]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found.append(cmdline.read_bytes().split(b"\0"))
        except OSError:
            continue  # it ended while we looked
    return found
