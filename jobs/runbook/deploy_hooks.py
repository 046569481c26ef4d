"""Hooks: the operator's own commands at named points of a deploy, through the one runner.

Points: before_backup (nothing changed yet: a failure stops the deploy), after_migrate and
after_health (a failure reverts the deploy), after_revert (reported, never changes the outcome).
A hook is an argv list run in a compose service (`exec` in the running container, or `run` in a
one-off container of its image) or on the deploy host in the environment's checkout. No shell
is involved unless the command itself is one (`[sh, -c, "..."]`).
"""

from __future__ import annotations

from config.gates import Hook
from jobs.commands.compose import Compose
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed

POINTS = ("before_backup", "after_migrate", "after_health", "after_revert")


def hook_argv(compose: Compose, hook: Hook) -> list[str]:
    """The exact argv of one hook."""
    if hook.service is None:
        return list(hook.command)
    if hook.mode == "run":
        return compose.run(hook.service, list(hook.command))
    return compose.exec(hook.service, list(hook.command))


def has_hooks(ctx: DeployContext, point: str) -> bool:
    return bool(ctx.environment.hooks.at(point))


def run_hooks(ctx: DeployContext, point: str) -> None:
    """Run the hooks of `point` in order; the first that fails raises StageFailed."""
    hooks = ctx.environment.hooks.at(point)
    for number, hook in enumerate(hooks, start=1):
        where = f"in {hook.service} ({hook.mode})" if hook.service else "on the host"
        ctx.log.info(f"hook {point} {number}/{len(hooks)} {where}")
        try:
            ctx.runner.run(
                hook_argv(ctx.compose, hook), timeout=hook.timeout, cwd=ctx.environment.path
            )
        except CommandFailed as failed:
            raise StageFailed(
                f"{point} hooks", f"hook {number} failed: {failed}", command=failed
            ) from failed
        except OSError as error:  # e.g. the program does not exist on the host
            raise StageFailed(
                f"{point} hooks", f"hook {number} could not start: {error.strerror}"
            ) from error
