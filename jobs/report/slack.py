"""Slack messages (incoming webhook): Block Kit for people, plain `text` for notifications."""

from __future__ import annotations

from typing import Any

import requests

from config import Settings
from config.model import SlackNotify
from jobs.failures.describe import recorded_cause
from jobs.report.delivery import Outbound
from jobs.report.states import SlackKind, slack_kind
from jobs.report.text import (
    clip,
    commit_url,
    database_note,
    duration,
    log_url,
    offsite,
    rehearsal,
    short,
)
from jobs.state.records import Deploy

ERROR_LINES = 12
ERROR_CHARS = 1500  # a section's text may hold 3000 characters; leave room for the rest
HEADER_LIMIT = 150  # Slack's limit for a header block

_HEADLINES: dict[str, str] = {
    "start": ":rocket: Deploying {target}",
    "success": ":white_check_mark: Deployed {target}",
    "failed": ":x: Deploy to {target} failed; nothing was changed",
    "reverted": ":rewind: Deploy to {target} failed and was reverted",
    "revert_failed": ":rotating_light: REVERT FAILED on {target}: needs attention",
    "cancelled": ":no_entry_sign: Deploy to {target} cancelled",
    "interrupted": ":rotating_light: Deploy to {target} INTERRUPTED: it lost the lock",
    "blocked": ":no_entry: Not deployed to {target}: blocked by a release gate",
}


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: user text must not turn into links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(settings: Settings, notify: SlackNotify, deploy: Deploy) -> dict[str, Any] | None:
    """The webhook body for this snapshot, or None when Slack is not told about this state."""
    kind = slack_kind(deploy.state, notify.notify_start)
    if kind is None:
        return None
    headline = _headline(kind, deploy)
    if kind == "success" and deploy.warnings:
        target = f"{deploy.project} → {deploy.environment}"
        headline = f":warning: Deployed {target}, with {_count(deploy.warnings)}"
    loud = kind in ("revert_failed", "interrupted")
    mention = f"{notify.mention} " if loud and notify.mention else ""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(clip(headline, HEADER_LIMIT))},
        {"type": "section", "fields": [_mrkdwn(field) for field in _facts(settings, deploy)]},
    ]
    for paragraph in _details(kind, deploy):
        blocks.append({"type": "section", "text": _mrkdwn(paragraph)})
    if mention:
        blocks.insert(1, {"type": "section", "text": _mrkdwn(f"{mention}*the deploy needs you*")})
    link = log_url(settings, deploy)
    footer = f"<{link}|Deploy log> · {deploy.id}" if link else f"deploy {deploy.id}"
    blocks.append({"type": "context", "elements": [_mrkdwn(footer)]})
    return {"text": mention + _summary(headline, deploy), "blocks": blocks}


def message_request(settings: Settings, notify: SlackNotify, deploy: Deploy) -> Outbound | None:
    body = message(settings, notify, deploy)
    if body is None:
        return None
    return Outbound(
        what=f"Slack message ({deploy.state})", url=notify.webhook_url.reveal(), body=body
    )


def accepted(response: requests.Response) -> bool:
    """Slack's incoming webhooks answer 200 with the body `ok`; anything else is an error."""
    return response.status_code == 200 and response.text.strip() == "ok"


def _headline(kind: SlackKind, deploy: Deploy) -> str:
    key = deploy.state if kind == "failure" else kind
    return _HEADLINES[key].format(target=f"{deploy.project} → {deploy.environment}")


def _summary(headline: str, deploy: Deploy) -> str:
    """The plain-text fallback: what notifications and old clients show."""
    parts = [f"{headline}: {deploy.ref_kind} {deploy.ref_name} ({deploy.short_sha})"]
    if deploy.sender:
        parts.append(f"by {deploy.sender}")
    took = duration(deploy)
    if took:
        parts.append(f"in {took}")
    if deploy.failed_stage:
        parts.append(f"- {deploy.failed_stage} failed")
    return escape(" ".join(parts))


def _facts(settings: Settings, deploy: Deploy) -> list[str]:
    url = commit_url(settings.projects[deploy.project], deploy.sha)
    commit = f"<{url}|{deploy.short_sha}>" if url else f"`{deploy.short_sha}`"
    facts = [
        f"*Ref*\n{escape(deploy.ref_kind)} `{escape(deploy.ref_name)}`",
        f"*Commit*\n{commit}",
        f"*Pushed by*\n{escape(deploy.sender or 'unknown')} ({escape(deploy.trigger)})",
    ]
    took = duration(deploy)
    if took:
        facts.append(f"*Duration*\n{took}")
    rehearsed = rehearsal(deploy)
    if rehearsed:
        facts.append(f"*Migration rehearsal*\n{rehearsed}")
    copied = offsite(deploy)
    if copied:
        facts.append(f"*Off-site copy*\n{escape(copied)}")
    if deploy.failed_stage:
        facts.append(f"*Failed stage*\n{escape(deploy.failed_stage)}")
    return facts


def _count(warnings: list[str]) -> str:
    return f"{len(warnings)} warning" + ("s" if len(warnings) > 1 else "")


def _details(kind: SlackKind, deploy: Deploy) -> list[str]:
    warnings = [f"*Warning*: {escape(clip(text, 600))}" for text in deploy.warnings[:5]]
    if kind in ("start", "success", "cancelled"):
        return warnings
    details = []
    if deploy.error:
        cause = recorded_cause(deploy.failure, deploy.error, deploy.failed_stage)
        if cause:
            details.append(f"*Cause*: {escape(cause)}")
        details.append(f"*Error* (last lines)\n{_code(deploy.error)}")
    previous = f"`{short(deploy.previous_sha)}`"
    if deploy.state == "failed":
        details.append(f"*Nothing changed*: the environment still runs {previous}.")
    elif deploy.state == "blocked":
        details.append("*Nothing was touched*: the environment runs what it ran before.")
    elif deploy.state == "reverted":
        details.append(f"*Restored*: code and images back to {previous}; {_database(deploy)}")
    elif kind == "revert_failed":
        revert_error = deploy.revert_error or "no detail recorded"
        backup = deploy.backup
        details.append(f"*The revert failed too*\n{_code(revert_error)}")
        if database_note(deploy):
            details.append(f"*Database*: {_database(deploy)}")
        details.append(
            f"*Left in*: an unknown mix of `{deploy.short_sha}` (new) and {previous} "
            "(previous); the services may be down. Check them before anything else."
        )
        details.append(
            f"*Backup to restore*: `{escape(str(backup))}` (taken just before this deploy)"
            if backup
            else "*Backup to restore*: none was taken for this deploy."
        )
    elif kind == "interrupted":
        details.append(
            f"*Stopped*: the lock is now held by {escape(deploy.interrupted_by or 'unknown')}; "
            f"this deploy changed nothing after that. The environment may run a mix of "
            f"`{deploy.short_sha}` (new) and {previous}: check it."
        )
    return details + warnings  # after what matters more: the failure


def _database(deploy: Deploy) -> str:
    note = database_note(deploy)
    if note is None:
        return "the database was not touched."
    text = escape(note) + "."
    if deploy.kept_database:
        text += f" Kept copy: `{escape(deploy.kept_database)}` (docs/data-safety.md)."
    return text


def _code(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()][-ERROR_LINES:]
    tail = "\n".join(lines)[-ERROR_CHARS:].replace("```", "'''")
    return f"```{escape(tail)}```"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}
