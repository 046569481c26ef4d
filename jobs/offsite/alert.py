"""A failed restore drill, told where deploys are told: Slack, the JSON webhook, Apprise.

A drill is no deploy, so it has no commit status to set; chat and webhooks get one message.
Best-effort and bounded like every report (notify.delivery); a failure to tell is logged.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from functools import partial

from config import Settings
from jobs.report.delivery import Outbound, ReportError, deliver
from jobs.report.json_webhook import standard_webhooks_headers
from jobs.report.reporter import new_session
from jobs.report.slack import accepted
from jobs.state.drills import DrillResult

log = logging.getLogger("deployhook.offsite")


def drill_message(result: DrillResult) -> str:
    return (
        f"RESTORE DRILL FAILED for {result.target}: {result.error}. The newest off-site backup "
        f"({result.name or 'none'}, snapshot {result.snapshot or '-'}) cannot be trusted to "
        f"restore: see `deployhook verify-backups {result.target}` and docs/backups.md"
    )


def report_failed_drill(settings: Settings, result: DrillResult) -> None:
    notify, text = settings.notify, drill_message(result)
    outbound = []
    if notify.slack is not None:
        mention = f"{notify.slack.mention} " if notify.slack.mention else ""
        url = notify.slack.webhook_url.reveal()
        outbound.append((Outbound("Slack drill message", url, {"text": mention + text}), True))
    if notify.webhook is not None:
        body = {"event": "backup_drill", "message": text, **asdict(result)}
        # Signed as the deploy reports are; one id per drill, the same on every retry.
        message_id = f"msg_drill_{result.target.replace('/', '_')}_{result.at}"
        sign = partial(standard_webhooks_headers, notify.webhook.secret.reveal(), message_id)
        outbound.append(
            (Outbound("JSON webhook drill", notify.webhook.url.reveal(), body, sign=sign), False)
        )
    session = new_session()
    for request, slack in outbound:
        try:
            if slack:
                deliver(session, request, notify.delivery, accepted)
            else:
                deliver(session, request, notify.delivery)
        except ReportError as error:
            log.warning("restore drill report not delivered: %s", error)
    if notify.apprise:
        _apprise(settings, text)


def _apprise(settings: Settings, text: str) -> None:
    import apprise

    sender = apprise.Apprise()
    for url in settings.notify.apprise:
        sender.add(url.reveal())
    if not sender.notify(title="Restore drill FAILED", body=text, notify_type="failure"):
        log.warning("restore drill report not delivered through Apprise")
