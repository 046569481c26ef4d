"""Running restic for one environment: its repository, password and credentials.

Every restic command runs through the deploy's Runner (logged, timed, masked), unfenced: it
changes nothing in the environment's stack, and a copy made by a deploy that lost its lock is
still a good copy.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.offsite import Offsite
from jobs.commands import restic
from jobs.execution.context import Tools
from jobs.execution.runner import CommandResult
from jobs.failures.errors import CommandFailed, DeployError
from jobs.failures.finder import shorten, telling_line


class OffsiteError(DeployError):
    """An off-site copy, listing or restore could not be done; the message says why."""


def offsite_of(tools: Tools) -> Offsite | None:
    return tools.environment.backups.offsite


def configured(tools: Tools) -> Offsite:
    offsite = offsite_of(tools)
    if offsite is None:
        raise OffsiteError(
            f"{tools.environment.target} has no backups.offsite repository: nothing is copied off "
            "this host (docs/backups.md)"
        )
    return offsite


def run_restic(
    tools: Tools, argv: list[str], *, check: bool = True, **options: Any
) -> CommandResult:
    offsite = configured(tools)
    return tools.runner.run(
        argv,
        timeout=offsite.timeout,
        extra_env=restic.repository_env(offsite),
        read_only=True,  # the stack is untouched; see the module's doc
        check=check,
        **options,
    )


def ensure_repository(tools: Tools) -> None:
    """A repository that is not there yet is initialised (a first copy); one whose password
    does not open it stays as it is, and the error says so."""
    offsite = configured(tools)
    opened = run_restic(tools, restic.cat_config(offsite), check=False, quiet=True,
                        stdout_path=Path("/dev/null"))  # fmt: skip
    if opened.exit_code == 0:
        return
    if "wrong password" in opened.output or "no key found" in opened.output:
        raise OffsiteError(f"the password does not open {offsite.repository}: {opened.output}")
    try:
        run_restic(tools, restic.init(offsite), quiet=True)
    except CommandFailed as error:
        raise OffsiteError(
            f"cannot open or create the repository {offsite.repository}: "
            f"{shorten(telling_line(opened.output), 300)} / {error.cause(300)}"
        ) from None
    tools.log.info(f"initialised the off-site repository {offsite.repository}")


def json_output(tools: Tools, argv: list[str], **options: Any) -> Any:
    """Run a restic command whose stdout is JSON, and read it (stdout kept out of the log)."""
    with tempfile.TemporaryDirectory(prefix="deployhook-restic-") as scratch:
        out = Path(scratch) / "out.json"
        run_restic(tools, argv, stdout_path=out, **options)
        return parse_json_lines(out.read_text())


def parse_json_lines(text: str) -> Any:
    """restic prints one JSON document, or (backup --json) one per line: the last one counts."""
    lines = [line for line in text.splitlines() if line.strip().startswith(("{", "["))]
    if not lines:
        raise OffsiteError(f"expected JSON from restic, got {text.strip()[-200:]!r}")
    try:
        return json.loads(lines[-1])
    except ValueError as error:
        raise OffsiteError(f"unreadable JSON from restic: {error}") from None


@dataclass(frozen=True)
class OffsiteCopy:
    """One snapshot: a backup (or kept dump) file in the environment's restic repository."""

    id: str
    short_id: str
    time: str
    name: str  # the backup's file name, the snapshot's only path
    deploy_id: str | None
    kind: str  # backup | kept
    schema: str | None  # the schema fingerprint recorded when it was copied

    def as_dict(self) -> dict[str, object]:
        return {
            "snapshot": self.short_id,
            "id": self.id,
            "time": self.time,
            "name": self.name,
            "taken_by": self.deploy_id,
            "kind": self.kind,
            "schema": self.schema,
        }


def copies_from(listing: Any) -> list[OffsiteCopy]:
    """`restic snapshots --json` as copies, newest first; anything not ours is left out."""
    found = []
    for item in listing if isinstance(listing, list) else []:
        tags = {t.split(":", 1)[0]: t.split(":", 1)[1] for t in item.get("tags") or [] if ":" in t}
        paths = item.get("paths") or []
        if "deployhook" not in (item.get("tags") or []) or len(paths) != 1:
            continue
        found.append(
            OffsiteCopy(
                id=str(item.get("id", "")),
                short_id=str(item.get("short_id") or str(item.get("id", ""))[:8]),
                time=str(item.get("time", "")),
                name=str(paths[0]).lstrip("/"),
                deploy_id=tags.get("deploy"),
                kind=tags.get("kind", "backup"),
                schema=tags.get("schema"),
            )
        )
    return sorted(found, key=lambda copy: copy.time, reverse=True)


def list_copies(tools: Tools) -> list[OffsiteCopy]:
    offsite = configured(tools)
    return copies_from(
        json_output(tools, restic.snapshots(offsite, tools.environment.target), quiet=True)
    )


def choose(copies: list[OffsiteCopy], wanted: str | None, target: str) -> OffsiteCopy:
    """The copy named by snapshot id (or its prefix) or backup file name; default the newest
    deploy backup."""
    if wanted is None:
        backups = [copy for copy in copies if copy.kind == "backup"]
        if not backups:
            raise OffsiteError(f"{target} has no off-site backup yet")
        return backups[0]
    for copy in copies:
        if wanted in (copy.name, copy.short_id, copy.id) or (
            len(wanted) >= 8 and copy.id.startswith(wanted)
        ):
            return copy
    raise OffsiteError(
        f"no off-site copy {wanted!r} of {target}: list them with `deployhook backups list "
        f"{target}`"
    )
