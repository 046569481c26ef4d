"""How long a proxy of the stack may still use an old DNS answer for a zero-downtime service.

The rolling swap waits this long (the settle) between a new container joining the service's
name and an old one leaving it: an old container's leave cuts its interface for about 0.1 s
(jobs/runbook/stages/service_name.py), and a proxy that knows only the old address at that
instant fails the requests of it (nginx answered 504). So the settle must outlast every proxy's
cached answer. Read from the proxy config files the Compose model bind-mounts, as
jobs/compose/proxy_check.py reads them; `settle` is pure but for reading those files:

- Caddy `reverse_proxy api:8000` resolves at each new connection (Go's resolver keeps no
  cache): nothing to wait for;
- Caddy `dynamic a { name api ... refresh R }` keeps its answer up to R;
- nginx `resolver ... valid=N` with a variable upstream keeps it up to N + 1 s (it checks
  `valid` against a clock in whole seconds).

The settle is the longest of those plus 1 s, or 0 when every proxy resolves per connection.
When no config names the service (a proxy outside these Compose files, or one this does not
read), it is DEFAULT_SETTLE_SECONDS: enough for a proxy whose answer is at most 2 s old, as
docs/zero-downtime.md asks. `zero_downtime_settle` overrides it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobs.compose.model import ComposeModel
from jobs.compose.proxy_check import DYNAMIC_A, NGINX_VARIABLE, RESOLVER, VALID, config_files

DEFAULT_SETTLE_SECONDS = 3.0
MARGIN_SECONDS = 1.0

_CADDY_UPSTREAM = re.compile(r"(?:\breverse_proxy|^\s*to)[ \t]+([^{\n]*)", re.MULTILINE)
_REFRESH = re.compile(r"\brefresh\s+([0-9.]+)(ms|s|m)\b")
_NGINX_RESOLVE = re.compile(r"\bserver\s+([A-Za-z0-9_.-]+)(?::\d+)?[^;]*\bresolve\b")
_UNIT_SECONDS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Settle:
    seconds: float
    why: str  # for the deploy log


def settle(
    model: ComposeModel,
    names: list[str],
    configured: float | None,
    read: Callable[[Path], str | None],
) -> Settle:
    """The settle for a swap of `names`, and where it comes from."""
    if configured is not None:
        return Settle(configured, "zero_downtime_settle")
    found: list[tuple[float, str]] = []
    for service in sorted(model.services.values(), key=lambda s: s.name):
        # One service's files together: nginx's resolver often sits in nginx.conf, the
        # upstream in conf.d/.
        text = "\n".join(filter(None, (read(path) for path in config_files(service.mounts))))
        ages = cache_ages(text, set(names))
        found += [(age, f"{how} (service {service.name})") for age, how in ages]
    if not found:
        return Settle(
            DEFAULT_SETTLE_SECONDS,
            f"no proxy config in the Compose files names {', '.join(names)}",
        )
    age, how = max(found)
    seconds = age + MARGIN_SECONDS if age > 0 else 0.0
    return Settle(seconds, how)


def cache_ages(text: str, names: set[str]) -> list[tuple[float, str]]:
    """(seconds an answer may be old, what says so) for each upstream of `names` in one file."""
    text = re.sub(r"#[^\n]*", "", text)
    ages: list[tuple[float, str]] = []
    for upstreams in _CADDY_UPSTREAM.finditer(text):
        for upstream in upstreams.group(1).split():
            host = re.sub(r"^[a-z]+://", "", upstream).split(":")[0].split("/")[0]
            if host in names:
                ages.append((0.0, f"Caddy resolves {host} at each connection"))
    for dynamic in DYNAMIC_A.finditer(text):
        body = dynamic.group(1) or ""
        named = re.findall(r"\bname\s+([A-Za-z0-9_.-]+)", body) or [dynamic.group(2) or ""]
        refresh = _REFRESH.search(body)
        if named[0] in names:
            seconds = _seconds(refresh.group(1), refresh.group(2)) if refresh else 60.0
            ages.append((seconds, f"Caddy's dynamic a refreshes {named[0]} every {seconds:g}s"))
    hosts = {m.group(1) for m in NGINX_VARIABLE.finditer(text)}
    hosts |= {m.group(1) for m in _NGINX_RESOLVE.finditer(text)}
    for host in sorted(hosts & names):
        ages += _nginx_age(text, host)
    return ages


def _nginx_age(text: str, host: str) -> list[tuple[float, str]]:
    """No `valid=`: nginx keeps Docker's 600 s answers, which no settle fixes (proxy_check
    names it, with the fix); without a resolver it cannot resolve the name at all."""
    resolver = RESOLVER.search(text)
    valid = VALID.search(resolver.group(1)) if resolver else None
    if valid is None:
        return []
    seconds = _seconds(valid.group(1), valid.group(2) or "s")
    # nginx compares `valid` with a clock that ticks in whole seconds.
    return [(seconds + 1.0, f"nginx keeps {host} up to valid={seconds:g}s + 1 s")]


def _seconds(number: str, unit: str) -> float:
    return float(number) * _UNIT_SECONDS[unit]
