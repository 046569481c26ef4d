"""`deployhook`: run the intake, the worker or both, and check the configuration."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from config import ConfigError, Settings, load_settings

Command = Callable[[argparse.Namespace], int]


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
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deployhook",
        description="Turn a signed git push into a safe Docker Compose deploy.",
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
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def check_config(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    print(summarise(settings))
    return 0


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
                f"(compose project {env.compose.project}, {database}, queue {env.queue})"
            )
    lines.append("queues: " + ", ".join(settings.queues()))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
