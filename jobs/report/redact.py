"""Keep secret webhook URLs out of urllib3's debug log, which prints every request's path.

A Slack incoming-webhook URL is a credential in its path; a generic webhook may carry a token
in its query. Reporters register such values here, and every urllib3 log record is rewritten
with them masked before any handler sees it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from config.secrets import MASK

_SHORTEST = 8  # a path like "/" or "/hook" is not a secret and masking it would only confuse


class _Redact(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = message
        for secret in sorted(self.secrets, key=len, reverse=True):
            masked = masked.replace(secret, MASK)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_REDACT = _Redact()
logging.getLogger("urllib3.connectionpool").addFilter(_REDACT)
# Apprise logs the URLs it sends to (ntfy topics, tokens in paths) in its warnings.
logging.getLogger("apprise").addFilter(_REDACT)


def hide_url(url: str) -> None:
    """Mask this URL's path and query wherever urllib3 would log them."""
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query):
        if len(secret) >= _SHORTEST:
            _REDACT.secrets.add(secret)


def hide_secret(text: str) -> None:
    """Mask this text (a token, a password) wherever urllib3 or Apprise would log it."""
    if len(text) >= _SHORTEST:
        _REDACT.secrets.add(text)
