"""Hooks: the operator's own commands at named points of a deploy, through the one runner.

Points: before_backup (nothing changed yet: a failure stops the deploy), after_migrate and
after_health (a failure reverts the deploy), after_revert (reported, never changes the outcome).
A hook is an argv list run in a compose service (`exec` in the running container, or `run` in a
one-off container of its image) or on the deploy host in the environment's checkout. No shell
is involved unless the command itself is one (`[sh, -c, "..."]`).

Every hook gets the deploy's facts as DEPLOYHOOK_* variables (jobs/commands/environ.py:
hook_variables, documented in docs/gates.md): in its environment on the host, as `-e` flags
in a service. Otherwise a hook sees only the minimal command environment, like every command.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.gates import Hook
from jobs.commands.compose import Compose
from jobs.commands.environ import env_flags, hook_variables
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, StageFailed

POINTS = ("before_backup", "after_migrate", "after_health", "after_revert")


# What the after-hooks are told of the deploy so far (DEPLOYHOOK_OUTCOME); after_revert's is
# `reverted` or `revert_failed`, given by its caller.
OUTCOMES = {"after_migrate": "migrated", "after_health": "healthy"}


def hook_argv(
    compose: Compose, hook: Hook, variables: Mapping[str, str] | None = None
) -> list[str]:
    """The exact argv of one hook; a service hook gets `variables` as `-e` flags (a host
    hook gets them in its environment)."""
    if hook.service is None:
        return list(hook.command)
    flags = env_flags(variables or {})
    if hook.mode == "run":
        return compose.run(hook.service, list(hook.command), flags)
    return compose.exec(hook.service, list(hook.command), flags)


def deploy_facts(ctx: DeployContext, point: str, outcome: str | None) -> dict[str, str]:
    record = ctx.deploy
    return hook_variables(
        deploy_id=record.id,
        project=record.project,
        environment=record.environment,
        ref=record.ref_name,
        sha=record.sha,
        previous_sha=ctx.previous_sha,
        point=point,
        outcome=outcome if outcome is not None else OUTCOMES.get(point),
    )


def has_hooks(ctx: DeployContext, point: str) -> bool:
    return bool(ctx.environment.hooks.at(point))


def run_hooks(ctx: DeployContext, point: str, outcome: str | None = None) -> None:
    """Run the hooks of `point` in order; the first that fails raises StageFailed."""
    hooks = ctx.environment.hooks.at(point)
    facts = deploy_facts(ctx, point, outcome)
    for number, hook in enumerate(hooks, start=1):
        where = f"in {hook.service} ({hook.mode})" if hook.service else "on the host"
        ctx.log.info(f"hook {point} {number}/{len(hooks)} {where}")
        try:
            ctx.runner.run(
                hook_argv(ctx.compose, hook, facts),
                timeout=hook.timeout,
                cwd=ctx.environment.path,
                extra_env=facts if hook.service is None else None,
            )
        except CommandFailed as failed:
            raise StageFailed(
                f"{point} hooks", f"hook {number} failed: {failed}", command=failed
            ) from failed
        except OSError as error:  # e.g. the program does not exist on the host
            raise StageFailed(
                f"{point} hooks", f"hook {number} could not start: {error.strerror}"
            ) from error
