"""Words and links every reporter shares: descriptions, durations, log and commit URLs."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from importlib import metadata
from typing import Any

from config import Project, Settings
from jobs.failures.describe import describe_text, recorded_cause
from jobs.state.records import Deploy

ELLIPSIS = "…"
# Characters that belong to the character before them: cutting just before one would leave a
# broken letter or emoji behind (combining accents, zero-width joiners, variation selectors).
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}


def user_agent() -> str:
    try:
        version = metadata.version("deployhook")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"deployhook/{version}"


def clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters (Unicode code points, as the providers count)."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    end = limit - len(ELLIPSIS)
    while end > 0 and (_clings(line[end]) or line[end - 1] in _JOINERS):
        end -= 1
    return line[:end].rstrip() + ELLIPSIS


def _clings(char: str) -> bool:
    return char in _JOINERS or unicodedata.combining(char) != 0


def short(sha: str | None) -> str:
    return sha[:7] if sha else "the previous commit"


def database_note(deploy: Deploy, final: str | None = None, *, brief: bool = False) -> str | None:
    """What a revert did to the database, in the words every report uses; None: nothing to say.

    `final`: the state the deploy is about to reach (the pipeline writes the note first).
    `brief`: without the restored backup's name, so that a 140-character commit status still
    names the kept copy.
    """
    if deploy.restored_backup:
        note = "database restored"
        if not brief:
            note += f" from {_name(deploy.restored_backup)}"
        if deploy.kept_database:
            since = (deploy.kept_writes_since or "")[11:19] or "the backup"
            note += f"; writes since {since} kept in {_name(deploy.kept_database)}"
        return note
    state = final or deploy.state
    if deploy.database_change == "unchanged" and state in ("reverted", "revert_failed"):
        return "database unchanged: not restored"
    return None


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def describe(deploy: Deploy, limit: int = 140) -> str:
    """The one-line status text of commit statuses, within `limit` (GitHub's 140).

    A failure names its stage once, then the cause, then what happened to the environment
    (and its database); the cause is clipped so that the rest always fits.
    """
    env = deploy.environment
    if deploy.state not in ("failed", "reverted", "revert_failed"):
        took = f" in {duration(deploy)}" if duration(deploy) else ""
        waiting = f"waiting for {deploy.waiting_for} before {env}" if deploy.waiting_for else None
        blocked = describe_text(deploy.error, None, None)
        texts = {
            "queued": waiting or f"queued for {env}",
            "running": f"deploying to {env}",
            "succeeded": f"deployed to {env}{took}{_slow_rehearsal(deploy)}{_offsite(deploy)}"
            f"{_warned(deploy)}",
            "superseded": f"not deployed to {env}: {deploy.error or 'a newer push replaced it'}",
            "cancelled": f"deploy to {env} cancelled",
            "interrupted": f"INTERRUPTED: lost the lock of {env} to {deploy.interrupted_by}",
            "blocked": f"not deployed to {env}: blocked" + (f": {blocked}" if blocked else ""),
            "skipped": f"not deployed to {env}: " + (blocked or "nothing to deploy"),
        }
        return clip(texts[deploy.state], limit)
    stage = f"{deploy.failed_stage} failed" if deploy.failed_stage else "a stage failed"
    why = recorded_cause(deploy.failure, deploy.error, deploy.failed_stage, None)
    note = database_note(deploy, brief=True)
    data = f" ({note})" if note else ""
    before, after = {
        "failed": ("", "; nothing changed"),
        "reverted": ("", f"; reverted to {short(deploy.previous_sha)}{data}"),
        "revert_failed": (f"REVERT FAILED, needs attention{data}: ", ""),
    }[deploy.state]
    fixed = len(before) + len(stage) + len(after)
    if fixed > limit:  # a long database note: what became of the data matters most, say it first
        return clip(f"{after.removeprefix('; ')}: {stage}", limit)
    room = limit - fixed - 2
    why = f": {clip(why, room)}" if why and room >= 12 else ""
    return clip(f"{before}{stage}{why}{after}", limit)


def rehearsal(deploy: Deploy) -> str | None:
    """The migration rehearsal's time for reports, e.g. "95.2s (slow)"; None: none ran."""
    if deploy.rehearsal_seconds is None:
        return None
    return f"{deploy.rehearsal_seconds:.1f}s" + (" (slow)" if deploy.rehearsal_slow else "")


def offsite(deploy: Deploy) -> str | None:
    """The off-site copy of the deploy's backup for reports; None: none was due."""
    if deploy.offsite_error:
        return f"FAILED, the backup is on this host only: {clip(deploy.offsite_error, 200)}"
    if deploy.offsite_snapshot:
        fetched = f"; restored from off-site {deploy.fetched_snapshot}"
        return f"snapshot {deploy.offsite_snapshot}" + (fetched if deploy.fetched_snapshot else "")
    return None


def warned(deploy: Deploy) -> str | None:
    """The deploy's warnings in a few words, e.g. "1 WARNING: api: ..."; None: there are none."""
    if not deploy.warnings:
        return None
    count = len(deploy.warnings)
    return f"{count} WARNING{'S' if count > 1 else ''}: {deploy.warnings[0]}"


def _warned(deploy: Deploy) -> str:
    note = warned(deploy)
    return f"; {note}" if note else ""


def _offsite(deploy: Deploy) -> str:
    return "; OFF-SITE COPY FAILED" if deploy.offsite_error else ""


def _slow_rehearsal(deploy: Deploy) -> str:
    return f"; slow migration rehearsal: {rehearsal(deploy)}" if deploy.rehearsal_slow else ""


def duration(deploy: Deploy) -> str | None:
    if not deploy.finished_at:
        return None
    start = deploy.started_at or deploy.created_at
    seconds = int((_parse(deploy.finished_at) - _parse(start)).total_seconds())
    minutes, seconds = divmod(max(seconds, 0), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def log_url(settings: Settings, deploy: Deploy) -> str | None:
    base = settings.server.public_url
    return f"{base.rstrip('/')}/deploys/{deploy.id}" if base else None


def commit_url(project: Project, sha: str) -> str | None:
    """The commit's web page, when `repo` starts with a host name (github.com/acme/crm)."""
    host, _, path = project.repo.partition("/")
    if "." not in host and ":" not in host:
        return None
    middle = "/-/commit/" if project.provider == "gitlab" else "/commit/"
    return f"https://{host}/{path}{middle}{sha}"


def context_name(template: str, project: str, environment: str) -> str:
    return template.replace("{environment}", environment).replace("{project}", project)


def status_body(
    settings: Settings, deploy: Deploy, state: str, label: tuple[str, str], limit: int
) -> dict[str, Any]:
    """The fields every commit status API shares; `label` is (field name, context template)."""
    key, template = label
    body: dict[str, Any] = {
        "state": state,
        key: context_name(template, deploy.project, deploy.environment),
        "description": describe(deploy, limit),
    }
    link = log_url(settings, deploy)
    if link:
        body["target_url"] = link
    return body
