"""The generic JSON webhook: every state change, in a documented and versioned shape.

Schema `deployhook.deploy/v1` only ever gains keys; a change in meaning gets a new version.
Every request is signed as Standard Webhooks (the scheme GitLab and others use): receivers
verify `webhook-signature` over `webhook-id.webhook-timestamp.body` with the shared key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from standardwebhooks import Webhook

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
            # What went wrong without changing the outcome (an old container not removed). One
            # that comes after the final report is sent again as a follow-up: the same event,
            # a longer list, its own webhook-id.
            "warnings": list(deploy.warnings),
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
    # One id per state change of a deploy (and per warning after it), the same on every retry,
    # so receivers can dedupe.
    message_id = f"msg_{deploy.id}_{deploy.state}"
    if deploy.warnings:
        message_id += f"_w{len(deploy.warnings)}"
    return Outbound(
        what=f"JSON webhook ({deploy.state})",
        url=notify.url.reveal(),
        body=payload(settings, deploy),
        sign=partial(standard_webhooks_headers, notify.secret.reveal(), message_id),
    )


def standard_webhooks_headers(key: str, message_id: str, body: bytes) -> dict[str, str]:
    """webhook-id, webhook-timestamp (now) and webhook-signature (v1, HMAC-SHA256 of
    id.timestamp.body), made by the Standard Webhooks reference library."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(key).sign(message_id, now, body),
    }
