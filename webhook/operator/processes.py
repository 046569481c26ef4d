"""`deployhook serve`, `worker` and `up`: the long-running processes the CLI starts."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from config import Settings, load_settings
from config.loader import config_path
from jobs.operations.targets import OperationError

GUNICORN_CONFIG = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"
APP = "webhook:create_app()"


def serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn serving the intake; returns only on failure."""
    from jobs.state.connection import check_configured
    from jobs.worker.private import private_process

    settings = load_settings(args.config)
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
            raise OperationError(f"--workers must be at least 1, got {workers}")
        argv += ["--workers", str(workers)]
    return [*argv, APP]


def worker(args: argparse.Namespace) -> int:
    from jobs.state.connection import RedisConnectionError, Unreachable, reach
    from jobs.worker.private import private_process
    from jobs.worker.start import run_worker
    from webhook.logs import configure_logging

    settings = load_settings(args.config)
    configure_logging()
    private_process(settings.state_dir)
    try:
        queues = worker_queues(settings, args.host or [], args.queue or [])
        run_worker(settings, reach(settings), queues, burst=args.burst)
    except Unreachable as error:
        raise OperationError(str(error)) from None
    except RedisConnectionError as error:
        raise OperationError(
            f"lost Redis ({type(error).__name__}): check redis.url or redis.sentinel "
            "and that Redis runs"
        ) from None
    return 0


def worker_queues(settings: Settings, hosts: list[str], queues: list[str]) -> list[str] | None:
    """The queues a worker takes: those of `hosts` plus `queues`; None means every queue."""
    known = sorted({queue.removeprefix("deploys.") for queue in settings.queues()})
    unknown = [host for host in hosts if f"deploys.{host}" not in settings.queues()]
    if unknown:
        raise OperationError(
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

    settings = load_settings(args.config)
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
                raise OperationError(str(error)) from None
            env["DEPLOYHOOK_REDIS_URL"] = url
            print(f"deployhook: embedded Redis on {url}", file=sys.stderr)
        return Supervisor({"web": web, "worker": work}, env).run()
