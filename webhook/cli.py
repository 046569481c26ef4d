"""`deployhook`: run the intake, the worker or both, check the configuration, and the
operator's verbs (deploy, rollback, history, backups, locks: webhook/operator/)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from config import ConfigError, Environment, Settings, load_settings
from config.loader import config_path
from config.plaintext import plain_text_secrets
from jobs.failures.errors import DeployError
from jobs.state.records import RecordError
from webhook.operator.commands import add_operator_commands

Command = Callable[[argparse.Namespace], int]
GUNICORN_CONFIG = Path(__file__).resolve().parent / "gunicorn.conf.py"
APP = "webhook:create_app()"


class CommandError(Exception):
    """A command cannot go on; the message says what happened and what to do."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    except (CommandError, DeployError, RecordError) as error:
        print(f"deployhook: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deployhook",
        description="Turn a signed git push into a safe Docker Compose deploy.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def add(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--config",
            metavar="FILE",
            help="configuration file (default: $DEPLOYHOOK_CONFIG)",
        )
        sub.set_defaults(run=run)
        return sub

    add("check-config", check_config, "Validate the configuration and print a summary.")
    serve_parser = add(
        "serve",
        serve,
        "Run the webhook intake under gunicorn (needs redis.url, DEPLOYHOOK_REDIS_URL or "
        "redis.sentinel).",
    )
    _add_web_options(serve_parser)
    worker_parser = add("worker", worker, "Run a deploy worker on this host's queues.")
    worker_parser.add_argument(
        "--queue",
        action="append",
        metavar="Q",
        help="queue to work, e.g. deploys.local; repeat for more (default: every configured queue)",
    )
    worker_parser.add_argument(
        "--host",
        action="append",
        metavar="NAME",
        help="work the queue of this deploy host (environments' `host`); repeat for more",
    )
    worker_parser.add_argument(
        "--burst", action="store_true", help="exit once the queues are empty"
    )
    up_parser = add(
        "up",
        up,
        "Run intake and worker together; start an embedded Redis when none is configured.",
    )
    _add_web_options(up_parser)
    add_operator_commands(add)
    return parser


def _add_web_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--bind", metavar="HOST:PORT", help="listen address (default: server.bind)")
    sub.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="gunicorn worker processes (default: server.workers)",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def check_config(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    print(summarise(settings))
    for warning in plain_text_secrets(config_path(args.config)):
        print(f"warning: {warning}", file=sys.stderr)
    for warning in offline_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    problems, proxy_warnings = zero_downtime_problems(settings)
    for warning in proxy_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if problems:
        raise CommandError("cannot swap without downtime:\n  " + "\n  ".join(problems))
    return 0


def zero_downtime_problems(settings: Settings) -> tuple[list[str], list[str]]:
    """Refusals from each existing checkout: zero_downtime services on Compose, and on a swarm
    the stack's update settings (jobs/swarm/policy.py); and warnings for a Compose stack's proxy
    that would not follow a swap (jobs/compose/proxy_check.py)."""
    from jobs.commands.compose import Compose, detect_compose
    from jobs.compose.model import read_model_offline
    from jobs.compose.proxy_check import read_text, warnings
    from jobs.compose.zero_downtime import refusals
    from jobs.execution.context import command_environ, secret_values
    from jobs.failures.errors import CommandFailed
    from jobs.failures.finder import telling_line
    from jobs.swarm.model import read_stack_offline
    from jobs.swarm.policy import refusals as swarm_refusals

    problems: list[str] = []
    proxy_warnings: list[str] = []
    for project_name, project in sorted(settings.projects.items()):
        for env_name, env in sorted(project.environments.items()):
            where = f"projects/{project_name}/environments/{env_name}"
            swarm = env.engine == "swarm"
            if not (env.zero_downtime or swarm) or not env.path.is_dir():
                continue  # without a checkout, the deploy's first stage checks it
            compose = Compose.for_environment(env, detect_compose(env.compose.command))
            environ = command_environ(env, secret_values(settings))
            try:
                if swarm:
                    database = env.database.service if env.database else None
                    stack = read_stack_offline(compose, environ)
                    found = swarm_refusals(stack, env.zero_downtime, database)
                else:
                    model = read_model_offline(compose, environ)
                    found = refusals(model, env.zero_downtime)
                    proxy_found = warnings(model, env.zero_downtime, read_text)
                    proxy_warnings += [f"{where}: zero_downtime: {line}" for line in proxy_found]
            except CommandFailed as error:
                said = telling_line(error.output_tail)
                problems.append(f"{where}: cannot read the Compose model: {error} {said}")
                continue
            problems += [f"{where}: {line}" for line in found]
    return problems, proxy_warnings


def offline_warnings(settings: Settings) -> list[str]:
    """What is risky yet knowable without reaching anything (`deployhook doctor` asks live)."""
    from jobs.doctor.check import Status
    from webhook.operator.doctor import embedded_finding

    warnings = []
    if not settings.redis.configured:
        redis = embedded_finding()
        if redis.status != Status.OK:
            warnings.append(f"redis: {redis.detail}; fix: {redis.fix}")
    return warnings


def _version() -> str:
    try:
        return metadata.version("deployhook")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; run scripts/venv)"


def serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn serving the intake; returns only on failure."""
    from jobs.state.connection import check_configured
    from jobs.worker.private import private_process

    settings = settings_from(args)
    check_configured(settings)  # refuse here, clearly, rather than in every worker
    private_process(None)  # the web app keeps nothing in the state directory
    argv = gunicorn_argv(args.bind, args.workers)
    env = dict(os.environ, DEPLOYHOOK_CONFIG=str(config_path(args.config).resolve()))
    sys.stdout.flush()
    sys.stderr.flush()
    # exec, not a child: gunicorn's master then gets the signals meant for `deployhook serve`.
    os.execve(sys.executable, argv, env)  # noqa: S606 - an argv list, no shell involved


def gunicorn_argv(bind: str | None, workers: int | None) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG)]
    if bind:
        argv += ["--bind", bind]
    if workers is not None:
        if workers < 1:
            raise CommandError(f"--workers must be at least 1, got {workers}")
        argv += ["--workers", str(workers)]
    return [*argv, APP]


def worker(args: argparse.Namespace) -> int:
    from jobs.state.connection import RedisConnectionError, Unreachable, reach
    from jobs.worker.private import private_process
    from jobs.worker.start import run_worker
    from webhook.logs import configure_logging

    settings = settings_from(args)
    configure_logging()
    private_process(settings.state_dir)
    try:
        queues = worker_queues(settings, args.host or [], args.queue or [])
        run_worker(settings, reach(settings), queues, burst=args.burst)
    except Unreachable as error:
        raise CommandError(str(error)) from None
    except RedisConnectionError as error:
        raise CommandError(
            f"lost Redis ({type(error).__name__}): check redis.url or redis.sentinel "
            "and that Redis runs"
        ) from None
    return 0


def worker_queues(settings: Settings, hosts: list[str], queues: list[str]) -> list[str] | None:
    """The queues a worker takes: those of `hosts` plus `queues`; None means every queue."""
    known = sorted({queue.removeprefix("deploys.") for queue in settings.queues()})
    unknown = [host for host in hosts if f"deploys.{host}" not in settings.queues()]
    if unknown:
        raise CommandError(
            f"no environment is on host {', '.join(unknown)}; hosts in the configuration: "
            f"{', '.join(known)} (set `host:` on an environment to add one)"
        )
    chosen = sorted({*(f"deploys.{host}" for host in hosts), *queues})
    return chosen or None


def up(args: argparse.Namespace) -> int:
    """Web and worker as child processes, with an embedded Redis when none is configured."""
    from jobs.worker.private import private_process
    from webhook.embedded_redis import EmbeddedRedisError, embedded_redis
    from webhook.supervisor import Supervisor

    settings = settings_from(args)
    private_process(settings.state_dir)
    source = str(config_path(args.config).resolve())
    env = dict(os.environ, DEPLOYHOOK_CONFIG=source)
    web = [sys.executable, "-m", "webhook.cli", "serve", "--config", source]
    if args.bind:
        web += ["--bind", args.bind]
    if args.workers is not None:
        web += ["--workers", str(args.workers)]
    work = [sys.executable, "-m", "webhook.cli", "worker", "--config", source]
    with ExitStack() as stack:
        if not settings.redis.configured:
            try:
                url = stack.enter_context(embedded_redis(settings.state_dir / "redis"))
            except EmbeddedRedisError as error:
                raise CommandError(str(error)) from None
            env["DEPLOYHOOK_REDIS_URL"] = url
            print(f"deployhook: embedded Redis on {url}", file=sys.stderr)
        return Supervisor({"web": web, "worker": work}, env).run()


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


def summarise(settings: Settings) -> str:
    from jobs.database.writers import describe_writers  # reads compose files: only here
    from jobs.gates.summary import gate_facts

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


def redis_line(settings: Settings) -> str:
    """Where Redis is and what a 202 waits for (never a password)."""
    from jobs.state.connection import describe

    replicas = settings.redis.acknowledging_replicas
    waits = (
        f"a 202 waits for {replicas} replica(s), {settings.redis.replica_timeout:g} s at most"
        if replicas
        else "a 202 waits for no replica"
    )
    return f"{describe(settings)}; {waits}"


if __name__ == "__main__":
    sys.exit(main())
