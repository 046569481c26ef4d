"""With `paths:`, rebuild only the services whose build context changed since the live commit.

`services_to_build` is pure (table-tested): a service is rebuilt when a changed file lies in
its build context or is its Dockerfile; a changed compose file, or a service whose context is
not a directory of the checkout (a git URL), rebuilds everything that builds. Services left out
keep the image their name points at now, which is the one the live commit built.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from jobs.compose.model import ComposeModel, read_model
from jobs.execution.context import DeployContext


def relative_to(checkout: str, path: str | None) -> str | None:
    """`path` relative to the checkout ("" for the root), or None when it lies elsewhere."""
    if not path or "://" in path or path.startswith("git@"):
        return None
    relative = os.path.relpath(os.path.normpath(path), os.path.normpath(checkout))
    if relative == os.curdir:
        return ""
    return None if relative.startswith(os.pardir) else PurePosixPath(relative).as_posix()


def _under(file: str, directory: str) -> bool:
    return directory == "" or file == directory or file.startswith(directory + "/")


def services_to_build(
    model: ComposeModel, checkout: str, compose_files: list[str], changed: list[str]
) -> list[str] | None:
    """The services to build, sorted; None means all of them (the safe answer)."""
    building = [service for service in model.services.values() if service.builds]
    if any(file in compose_files for file in changed):
        return None  # build args, contexts or Dockerfiles may have moved
    chosen = []
    for service in building:
        context = relative_to(checkout, service.build_context)
        if context is None:
            return None
        dockerfile = relative_to(
            checkout, os.path.join(str(service.build_context), service.dockerfile or "Dockerfile")
        )
        if any(_under(file, context) or file == dockerfile for file in changed):
            chosen.append(service.name)
    return sorted(chosen)


def changed_services(ctx: DeployContext) -> list[str] | None:
    """For this deploy's build: the services to build, or None for all (no diff known)."""
    if ctx.changed_files is None:
        return None
    model = read_model(ctx.runner, ctx.compose)
    chosen = services_to_build(
        model, str(ctx.environment.path), list(ctx.environment.compose.files), ctx.changed_files
    )
    if chosen is not None:
        ctx.log.info(
            "paths: rebuilding only services whose build context changed: "
            + (", ".join(chosen) or "none")
        )
    return chosen
