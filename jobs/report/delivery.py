"""Send one prepared request with bounded retries, and say why it failed without leaking secrets.

Retried: connection errors, timeouts, 5xx, 429, and GitHub's rate limits (403/429 with
`Retry-After` or `x-ratelimit-remaining: 0`), waiting as long as the provider asks when that fits
in the budget. Everything else is permanent and is not retried. No error raised here carries a
URL, a header or an exception text from `requests`: webhook URLs and tokens are secrets.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import stamina

from config.model import Delivery


@dataclass(frozen=True)
class Outbound:
    """One HTTP request as data; `what` names it in logs and problems (no URL, no token)."""

    what: str
    url: str = field(repr=False)
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    # Headers made from the exact bytes sent, again for every attempt (a signature with its
    # timestamp); with it the body is sent as those bytes, not re-encoded by requests.
    sign: Callable[[bytes], dict[str, str]] | None = field(default=None, repr=False)


class ReportError(Exception):
    """A report did not reach its provider; the message is safe to log and to record."""


class ReportRejected(ReportError):
    """The provider refused the request for good (bad token, unknown repo, invalid body)."""


class ReportUndelivered(ReportError):
    """Every attempt failed with a temporary error, within the attempts and time allowed."""


class _Temporary(Exception):
    """One failed attempt worth retrying; `wait` is what the provider asked for, if anything."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


Accept = Callable[[requests.Response], bool]


def answered_2xx(response: requests.Response) -> bool:
    return 200 <= response.status_code < 300


def deliver(
    session: requests.Session,
    outbound: Outbound,
    policy: Delivery,
    accept: Accept = answered_2xx,
) -> requests.Response:
    """POST `outbound`; return the accepted response or raise a ReportError subclass."""
    deadline = time.monotonic() + policy.give_up_after

    def retry_or_wait(error: Exception) -> bool | float:
        if not isinstance(error, _Temporary):
            return False
        if error.wait is None:
            return True
        # A wait longer than the budget left cannot end in a delivery: give up now.
        return error.wait if error.wait <= deadline - time.monotonic() else False

    attempts = 0
    try:
        for attempt in retries(policy, retry_or_wait):
            with attempt:
                attempts += 1
                return _attempt(session, outbound, policy.request_timeout, accept)
    except _Temporary as error:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        raise ReportUndelivered(f"{outbound.what}: gave up after {tries}: {error.reason}") from None
    raise AssertionError("stamina ended without a result or an error")  # pragma: no cover


def retries(
    policy: Delivery, on: type[Exception] | Callable[[Exception], bool | float]
) -> Iterable[stamina.Attempt]:
    """Attempts within `policy`'s bounds (count, total time, backoff), for every reporter."""
    return stamina.retry_context(
        on=on,
        attempts=policy.attempts,
        timeout=policy.give_up_after,
        wait_initial=policy.first_wait,
        wait_max=policy.max_wait,
        wait_jitter=policy.first_wait / 2,
    )


def _attempt(
    session: requests.Session, outbound: Outbound, timeout: float, accept: Accept
) -> requests.Response:
    try:
        # No redirects: providers answer API calls directly, and a redirect could carry a
        # token elsewhere; a 3xx is reported as a rejection naming its status.
        if outbound.sign is None:
            response = session.post(
                outbound.url,
                json=outbound.body,
                headers=outbound.headers,
                timeout=timeout,
                allow_redirects=False,
            )
        else:
            raw = json.dumps(outbound.body, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json", **outbound.headers}
            response = session.post(
                outbound.url,
                data=raw,
                headers={**headers, **outbound.sign(raw)},
                timeout=timeout,
                allow_redirects=False,
            )
    except requests.Timeout:
        raise _Temporary(f"no answer within {timeout:g} s") from None
    except requests.RequestException as error:
        # The exception text holds the URL, which may be a secret (Slack, generic webhook).
        raise _Temporary(f"could not connect ({type(error).__name__})") from None
    if accept(response):
        return response
    status = response.status_code
    detail = _detail(response)
    wait = _requested_wait(response)
    if status >= 500 or status in (408, 429) or (status == 403 and wait is not None):
        raise _Temporary(f"HTTP {status}{detail}", wait)
    raise ReportRejected(f"{outbound.what}: rejected with HTTP {status}{detail}; {_hint(status)}")


def _requested_wait(response: requests.Response) -> float | None:
    """Seconds the provider asks us to wait (Retry-After, GitHub rate limit), if it says."""
    retry_after = response.headers.get("Retry-After", "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    if retry_after:
        try:
            return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    remaining = response.headers.get("x-ratelimit-remaining")
    reset = response.headers.get("x-ratelimit-reset", "")
    if remaining == "0" and reset.isdigit():
        return max(0.0, int(reset) - time.time()) + 1.0
    return None


_WORD = re.compile(r"[a-z_]{1,60}")  # Slack's plain error words: no_service, invalid_token


def _detail(response: requests.Response) -> str:
    """The provider's own short error message; never the raw body, which could echo anything."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = response.text.strip() if _WORD.fullmatch(response.text.strip()) else None
    if not isinstance(message, str) or not message:
        return ""
    return f" ({' '.join(message.split())[:200]})"


def _hint(status: int) -> str:
    if status == 401:
        return "check the token"
    if status == 403:
        return "check the token's permissions (scopes, role)"
    if status == 404:
        return "check the repository or webhook URL, and that the token can see the repository"
    if status == 410:
        return "the webhook is gone; create a new one and update the configuration"
    return "the request was not accepted; see the message"
