"""Deploys as text: one history line each, a full `show`, and one stage's line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.failures.describe import recorded_cause
from jobs.report.text import database_note
from jobs.state.records import Deploy, StageRecord

MARKS = {"ok": "ok", "failed": "FAILED", "running": "...", "skipped": "skipped"}


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start:
        return None
    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    finish = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else datetime.now(UTC)
    return (finish - begin).total_seconds()


def duration(start: str | None, end: str | None) -> str:
    seconds = seconds_between(start, end)
    return "-" if seconds is None else f"{seconds:.1f}s"


def stage_line(stage: StageRecord) -> str:
    line = f"  {stage.name:<9} {MARKS.get(stage.outcome, stage.outcome):<7} "
    line += duration(stage.started_at, stage.finished_at)
    return line + (f"  {stage.detail}" if stage.outcome == "failed" and stage.detail else "")


def ref_text(deploy: Deploy) -> str:
    return deploy.sha[:12] if deploy.ref_kind == "sha" else f"{deploy.ref_kind} {deploy.ref_name}"


def history_line(deploy: Deploy) -> str:
    return (
        f"{deploy.id}  {deploy.target:<16} {deploy.state:<13} {deploy.sha[:12]}  "
        f"{ref_text(deploy):<20} {deploy.trigger:<12} {deploy.created_at[:19]}"
    )


def show_text(deploy: Deploy, commands: list[dict[str, Any]], log: list[str]) -> str:
    lines = [
        f"deploy {deploy.id}: {deploy.state}",
        f"  environment {deploy.target}",
        f"  commit      {deploy.sha} ({ref_text(deploy)})",
        f"  trigger     {deploy.trigger}" + (f" by {deploy.sender}" if deploy.sender else ""),
        f"  previous    {deploy.previous_sha or '-'}",
        f"  queued      {deploy.created_at}",
        f"  took        {duration(deploy.started_at, deploy.finished_at)}",
    ]
    for key in ("backup", "restore_backup", "rollback_to", "redeploy_of", "build"):
        if getattr(deploy, key):
            lines.append(f"  {key.replace('_', ' '):<11} {getattr(deploy, key)}")
    if deploy.restored_backup:
        lines.append(f"  restored    {deploy.restored_backup}")
    if deploy.kept_database:
        lines.append(f"  kept        {deploy.kept_database}")
    note = database_note(deploy)
    if note:
        lines.append(f"  database    {note}")
    if deploy.rehearsal_seconds is not None:
        slow = " (slow)" if deploy.rehearsal_slow else ""
        took = f"{deploy.rehearsal_seconds:.1f}s"
        lines.append(f"  rehearsal   migration took {took} on a copy of the backup{slow}")
    if deploy.waiting_for and deploy.state == "queued":
        lines.append(f"  waiting for {deploy.waiting_for}")
    if deploy.blocked_by:
        lines.append(f"  blocked by  {deploy.blocked_by}")
    if deploy.override_reason:
        lines.append(f"  overridden  {deploy.override_reason} (release gates passed by hand)")
    for warning in deploy.warnings:
        lines.append(f"  WARNING     {warning}")
    if deploy.error:
        cause = recorded_cause(deploy.failure, deploy.error, deploy.failed_stage)
        if cause:
            lines.append(f"  cause       {cause}")
        lines.append(f"  error       {deploy.error}")
    lines += ["stages:", *(stage_line(stage) for stage in deploy.stages)]
    lines.append("commands:")
    for command in commands:
        lines.append(
            f"  exit {command['exit']} {command['duration']}s  {' '.join(command['argv'])}"
        )
    lines += ["log:", *(f"  {line}" for line in log)]
    return "\n".join(lines)
