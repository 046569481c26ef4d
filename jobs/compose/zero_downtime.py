"""What a zero-downtime service must be: refusals read from the Compose model, and its grace.

`refusals` is pure (table-tested) and runs where nothing has changed yet: `check-config` (when
the checkout exists) and the deploy's snapshot stage; the swap checks the new commit's model
again before it touches a container. A service whose Compose files set no healthcheck test is
not refused: Docker runs its image's HEALTHCHECK, which the build stage checks
(jobs/compose/image_healthcheck.py); one that disables its healthcheck is.
`slow_first_checks` (pure too) is check-config's and doctor's warning of a healthcheck whose
first check holds every swap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from jobs.compose.image_healthcheck import ImageHealthcheck
from jobs.compose.model import ComposeModel, ServiceModel

DEFAULT_GRACE_SECONDS = 10  # Docker's own default stop timeout
DEFAULT_HEALTH_INTERVAL = 30.0  # Docker's, when a healthcheck sets no interval
# A first healthcheck this long after a start holds every swap about as long: worth a warning.
SLOW_FIRST_CHECK_SECONDS = 10.0
# An old container's drain by default: its stop_grace_period, but a swap of many batches
# must not wait minutes per batch for a service that set a long one for rare slow requests.
DRAIN_CAP_SECONDS = 30
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def refusals(model: ComposeModel, names: list[str]) -> list[str]:
    """One message per reason a named service cannot run two containers side by side."""
    return [line for lines in refused_services(model, names).values() for line in lines]


def refused_services(model: ComposeModel, names: list[str]) -> dict[str, list[str]]:
    """service -> its refusal messages, for the named services that cannot swap rolling."""
    refused: dict[str, list[str]] = {}
    for name in names:
        service = model.service(name)
        if service is None:
            known = ", ".join(sorted(model.services)) or "none"
            reasons = [f"is not in the Compose files (services: {known}); fix the name"]
        else:
            reasons = _reasons(service)
        if reasons:
            refused[name] = [f"zero_downtime: service {name} {reason}" for reason in reasons]
    return refused


def _reasons(service: ServiceModel) -> list[str]:
    reasons = []
    if service.container_name:
        reasons.append(
            f"sets container_name {service.container_name}: a second container cannot get that "
            "name while the first runs; remove container_name"
        )
    if service.network_mode == "host" or (service.network_mode or "").startswith(
        ("container:", "service:")
    ):
        reasons.append(
            f"uses network_mode: {service.network_mode}: old and new container would need the "
            "same port and a proxy could not tell them apart; put the service on a Compose "
            "network behind the proxy"
        )
    fixed = [port.published for port in service.fixed_host_ports]
    if fixed:
        reasons.append(
            f"publishes fixed host port {', '.join(str(port) for port in fixed)}: the new "
            "container cannot bind it while the old one holds it; publish only the proxy and let "
            "it reach the service by name (or use `expose:`)"
        )
    if service.healthcheck == "disabled":
        reasons.append(
            "disables its healthcheck (the image's too): nothing would say when the new "
            "container is ready for traffic; give the service a `healthcheck:` test"
        )
    return reasons


def slow_first_checks(
    model: ComposeModel,
    names: list[str],
    images: Mapping[str, ImageHealthcheck | None] | None = None,
) -> list[str]:
    """A warning per named service whose new containers get their first healthcheck late: the
    swap waits for it (Docker must call a new container healthy before it joins the name).

    `images`: service -> its image's healthcheck, when an engine was asked (doctor): Docker
    takes each timing Compose leaves unset from there. Without it (check-config, offline) a
    service whose test is the image's is left out: its timing is the image's, unknown here.
    """
    found = []
    for name in names:
        service = model.service(name)
        if service is None or service.healthcheck == "disabled":
            continue  # refused already
        image = (images or {}).get(name)
        if service.healthcheck == "image" and image is None:
            continue  # unknown offline; an image without one fails doctor and the build
        first = first_check_seconds(service, image)
        if first >= SLOW_FIRST_CHECK_SECONDS:
            interval = service.health_interval or (
                f"{image.interval:g}s in the image" if image and image.interval else "not set: 30s"
            )
            found.append(
                f"service {name}: Docker runs a new container's first healthcheck {first:g}s "
                f"after its start (interval {interval}), and "
                "each swap waits for it; set `start_period` with `start_interval: 1s` (Docker "
                "25 and later), or a shorter `interval`"
            )
    return found


def first_check_seconds(service: ServiceModel, image: ImageHealthcheck | None = None) -> float:
    """When Docker runs a new container's first healthcheck: `start_interval` after the start
    when a `start_period` is set (Docker 25+), else `interval` (30 s when not set). Each timing
    the service leaves unset is the image's HEALTHCHECK's, as Docker merges them."""
    interval = duration_seconds(service.health_interval) or (image and image.interval)
    start_period = duration_seconds(service.health_start_period) or (image and image.start_period)
    start_interval = duration_seconds(service.health_start_interval) or (
        image and image.start_interval
    )
    if (start_period or 0.0) > 0 and start_interval:
        return start_interval
    return interval or DEFAULT_HEALTH_INTERVAL


def grace_seconds(service: ServiceModel) -> int:
    """The service's stop_grace_period (a Go duration such as 1m30s), rounded up to seconds."""
    total = duration_seconds(service.stop_grace_period)
    if total is None:
        return DEFAULT_GRACE_SECONDS
    return max(1, int(-(-total // 1)))


def duration_seconds(text: str | None) -> float | None:
    """A Go duration (1m30s, 500ms) in seconds; None when unset or not one."""
    if not text:
        return None
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def drain_seconds(service: ServiceModel, configured: float | None) -> float:
    """How long an old container serves on after it left the name, before its SIGTERM."""
    if configured is not None:
        return configured
    return float(min(grace_seconds(service), DRAIN_CAP_SECONDS))
