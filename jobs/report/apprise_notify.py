"""Notifications through Apprise (`notify.apprise: [urls]`): Discord, Teams, ntfy, e-mail, ...

Apprise speaks to some hundred services from one URL each; it answers only "sent" or "not
sent", so every "not sent" is retried within the same bounds as the other reporters
(`notify.delivery`), each URL on its own: one dead service does not silence the others. The
URLs are credentials (tokens sit in their host or path), so no error names one: a URL is
called by its position and scheme ("Apprise URL 2 (ntfy)"), and Apprise's own log lines and
urllib3's are masked. The message says what Slack's says, in plain text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise

from config import Secret, Settings
from config.model import Delivery
from jobs.report.delivery import ReportError, ReportRejected, ReportUndelivered, retries
from jobs.report.redact import hide_secret, hide_url
from jobs.report.states import slack_kind
from jobs.report.text import clip, describe, duration, log_url, offsite
from jobs.state.records import Deploy

TITLE_LIMIT = 250
BODY_LIMIT = 1800  # Discord's limit is 2000; most services take far more
_TITLES = {
    "start": "Deploying {target}",
    "success": "Deployed {target}",
    "failed": "Deploy to {target} failed; nothing was changed",
    "reverted": "Deploy to {target} failed and was reverted",
    "revert_failed": "REVERT FAILED on {target}: needs attention",
    "cancelled": "Deploy to {target} cancelled",
    "blocked": "Not deployed to {target}: blocked by a release gate",
    "interrupted": "Deploy to {target} INTERRUPTED: it lost the lock; needs attention",
}


@dataclass(frozen=True)
class Note:
    title: str
    body: str
    kind: str  # Apprise's notification type: info, success, warning, failure


class _NotSent(Exception):
    """One attempt that Apprise reported as not delivered; worth another try."""


def note_for(settings: Settings, deploy: Deploy) -> Note | None:
    """The notification for this snapshot, or None for states nobody is told about."""
    kind = slack_kind(deploy.state, notify_start=False)
    if kind is None:
        return None
    key = deploy.state if kind == "failure" else kind
    title = _TITLES[key].format(target=f"{deploy.project} → {deploy.environment}")
    lines = [describe(deploy)]
    facts = f"{deploy.ref_kind} {deploy.ref_name} at {deploy.short_sha}"
    if deploy.sender:
        facts += f", pushed by {deploy.sender}"
    took = duration(deploy)
    lines.append(facts + (f", {took}" if took else ""))
    copied = offsite(deploy)
    if copied:
        lines.append(f"Off-site copy: {copied}")
    lines += [f"Warning: {text}" for text in deploy.warnings[:5]]
    link = log_url(settings, deploy)
    lines.append(f"Deploy log: {link}" if link else f"Deploy {deploy.id}")
    severity = {"start": "info", "success": "success", "cancelled": "warning", "blocked": "warning"}
    if kind == "success" and deploy.warnings:
        severity["success"] = "warning"
    return Note(
        clip(title, TITLE_LIMIT), "\n".join(lines)[:BODY_LIMIT], severity.get(kind, "failure")
    )


class AppriseReporter:
    """Sends one notification per snapshot to every configured Apprise URL."""

    name = "Apprise"
    provider: str | None = None

    def __init__(self, settings: Settings, urls: list[Secret], policy: Delivery) -> None:
        self.settings = settings
        self.urls = urls
        self.policy = policy
        for url in urls:
            hide_apprise_url(url.reveal())

    def report(self, deploy: Deploy) -> None:
        note = note_for(self.settings, deploy)
        if note is None:
            return
        problems = []
        for number, url in enumerate(self.urls, start=1):
            what = f"Apprise URL {number} ({_scheme(url.reveal())}, {deploy.state})"
            try:
                send(url.reveal(), note, self.policy, what)
            except ReportError as error:
                problems.append(str(error))
        if problems:
            raise ReportUndelivered("; ".join(problems))


def send(url: str, note: Note, policy: Delivery, what: str) -> None:
    """Notify one Apprise URL, retrying "not sent" within `policy`; ReportError when it fails."""
    attempts = 0
    try:
        for attempt in retries(policy, _NotSent):
            with attempt:
                attempts += 1
                _attempt(url, note, policy.request_timeout)
    except _NotSent:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        raise ReportUndelivered(
            f"{what}: gave up after {tries}: the service did not accept it "
            "(Apprise's warning in the worker log says why)"
        ) from None


def _attempt(url: str, note: Note, timeout: float) -> None:
    # async_mode off: one URL at a time, in this thread, under our own deadline and retries.
    notifier = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
    if not notifier.add(_with_timeouts(url, timeout)):
        raise ReportRejected(
            f"Apprise URL ({_scheme(url)}): not a URL Apprise understands; "
            "see https://github.com/caronc/apprise/wiki"
        )
    began = time.monotonic()
    if not notifier.notify(title=note.title, body=note.body, notify_type=note.kind):
        raise _NotSent(f"not sent after {time.monotonic() - began:.1f} s")


def _with_timeouts(url: str, timeout: float) -> str:
    """Apprise's own connect and read timeouts (`cto`, `rto`), unless the URL sets them."""
    if "cto=" in url or "rto=" in url:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}cto={timeout:g}&rto={timeout:g}"


def _scheme(url: str) -> str:
    return url.split("://", 1)[0][:20] if "://" in url else "?"


def hide_apprise_url(url: str) -> None:
    """Mask everything in an Apprise URL that may be a credential, in Apprise's logs too."""
    hide_url(url)
    parts = urlsplit(url)
    for piece in (parts.username, parts.password, *parts.path.split("/")):
        if piece:
            hide_secret(piece)
    if parts.hostname and "." not in parts.hostname:
        hide_secret(parts.hostname)  # a token in the host's place (discord://id/token, tgram://)
