"""`deployhook check-config`'s summary: what each environment does, in one block a project.

It reads each checkout's Compose files (who writes to the database) and asks nothing live.
"""

from __future__ import annotations

from datetime import UTC, datetime

from config import Environment, Settings
from jobs.database.writers import describe_writers
from jobs.gates.summary import gate_facts
from jobs.state.connection import describe


def summarise(settings: Settings) -> str:
    lines = [f"configuration OK: {len(settings.projects)} project(s)"]
    for project_name, project in sorted(settings.projects.items()):
        signing = ", signed (Standard Webhooks)" if project.signing_key else ""
        lines.append(f"{project_name}: {project.repo} via {project.provider}{signing}")
        lines.append(f"  webhook URL path: /hooks/{project_name}")
        for env_name, env in sorted(project.environments.items()):
            trigger = f"{env.trigger.kind} {env.trigger.pattern}"
            database = "no database" if env.database is None else f"backs up {env.database.name}"
            lines.append(
                f"  {env_name}: on {trigger} -> {env.path} "
                f"(compose project {env.compose.project}, {database}, queue {env.queue}"
                + (f", docker {env.docker_host}" if env.docker_host else "")
                + (", rehearses migrations" if env.migrate and env.migrate.rehearse else "")
                + (", webhooks may deploy older commits" if env.allow_older else "")
                + ")"
            )
            if env.database is not None:
                writers = describe_writers(env.database, env.path, env.compose.files)
                lines.append(f"    writers stopped for a restore: {writers}")
            lines += [f"    gate: {fact}" for fact in gate_facts(env, datetime.now(UTC))]
            lines.extend(f"    {line}" for line in trigger_lines(env))
    lines.append("queues: " + ", ".join(settings.queues()))
    lines.append("redis: " + redis_line(settings))
    return "\n".join(lines)


def trigger_lines(env: Environment) -> list[str]:
    """What else starts or shapes this environment's deploys (issue 13's trigger options)."""
    lines = []
    if env.poll is not None:
        lines.append(f"polls {env.remote} every {env.poll.interval:g}s (in the worker)")
    if env.paths is not None:
        lines.append("deploys only when these change: " + ", ".join(env.paths))
    if env.images == "pull":
        lines.append("pulls its images (compose pull), pinned by digest")
    if env.compose.profiles:
        lines.append("compose profiles: " + ", ".join(env.compose.profiles))
    return lines


def redis_line(settings: Settings) -> str:
    """Where Redis is and what a 202 waits for (never a password)."""
    replicas = settings.redis.acknowledging_replicas
    waits = (
        f"a 202 waits for {replicas} replica(s), {settings.redis.replica_timeout:g} s at most"
        if replicas
        else "a 202 waits for no replica"
    )
    return f"{describe(settings)}; {waits}"
