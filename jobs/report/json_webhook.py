"""The generic JSON webhook: every state change, in a documented and versioned shape.

Schema `deployhook.deploy/v1` only ever gains keys; a change in meaning gets a new version.
"""

from __future__ import annotations

from typing import Any

from config import Settings
from config.model import WebhookNotify
from jobs.report.delivery import Outbound
from jobs.report.text import commit_url, database_note, log_url
from jobs.state.records import Deploy

SCHEMA = "deployhook.deploy/v1"


def payload(settings: Settings, deploy: Deploy) -> dict[str, Any]:
    environment = settings.environment(deploy.project, deploy.environment)
    return {
        "schema": SCHEMA,
        "event": deploy.state,
        "deploy": {
            "id": deploy.id,
            "project": deploy.project,
            "environment": deploy.environment,
            "production": environment.is_production,
            "state": deploy.state,
            "ref": {"kind": deploy.ref_kind, "name": deploy.ref_name},
            "sha": deploy.sha,
            "previous_sha": deploy.previous_sha,
            "sender": deploy.sender,
            "trigger": deploy.trigger,
            "delivery_id": deploy.delivery_id,
            "created_at": deploy.created_at,
            "started_at": deploy.started_at,
            "finished_at": deploy.finished_at,
            "failed_stage": deploy.failed_stage,
            "error": deploy.error,
            "backup": deploy.backup,
            "restored_backup": deploy.restored_backup,
            "database_change": deploy.database_change,
            "kept_database": deploy.kept_database,
            "kept_writes_since": deploy.kept_writes_since,
            # Off-site (backups.offsite): the backup's restic snapshot, or why there is none.
            "offsite_snapshot": deploy.offsite_snapshot,
            "offsite_error": deploy.offsite_error,
            "database": database_note(deploy),
            "revert_error": deploy.revert_error,
            "interrupted_by": deploy.interrupted_by,
            # Release gates: the gate that blocked it (state `blocked`: not deployed, `error`
            # says why), what a queued deploy waits for, an operator's override reason.
            "deployed": deploy.state == "succeeded",
            "blocked_by": deploy.blocked_by,
            "waiting_for": deploy.waiting_for,
            "override_reason": deploy.override_reason,
            "log_url": log_url(settings, deploy),
            "commit_url": commit_url(settings.projects[deploy.project], deploy.sha),
            "environment_url": environment.url,
        },
    }


def payload_request(settings: Settings, notify: WebhookNotify, deploy: Deploy) -> Outbound:
    return Outbound(
        what=f"JSON webhook ({deploy.state})",
        url=notify.url.reveal(),
        body=payload(settings, deploy),
    )
