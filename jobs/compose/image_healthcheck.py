"""An image's own healthcheck (its Dockerfile's HEALTHCHECK), for a zero-downtime service
whose Compose files set none: Docker runs the image's then, and the swap waits for it.

`from_inspect` is pure (table-tested) on what `docker image inspect` prints; `read` asks the
engine through the Docker SDK. The deploy checks each new image after its build or pull
(jobs/runbook/stages/new_images.py); check-config, offline, can only say that it will
(`offline_warnings`); doctor looks at the image there is (`judge`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker.errors

from jobs.compose.model import ComposeModel, ServiceModel

FIX = "add a `healthcheck:` to the service or a HEALTHCHECK to its image"
NANOSECONDS = 1e9


@dataclass(frozen=True)
class ImageHealthcheck:
    """The image's HEALTHCHECK; a timing is None when the image leaves it to Docker."""

    test: tuple[str, ...]
    interval: float | None = None  # seconds
    start_period: float | None = None
    start_interval: float | None = None

    def __str__(self) -> str:
        every = f", every {self.interval:g}s" if self.interval else ""
        return f"{' '.join(self.test)}{every}"


@dataclass(frozen=True)
class ImageLook:
    """What the engine has under an image name: nothing (`present` False), or an image with
    or without a healthcheck."""

    name: str
    present: bool
    healthcheck: ImageHealthcheck | None = None


def from_inspect(attrs: Mapping[str, Any]) -> ImageHealthcheck | None:
    """The healthcheck in `docker image inspect`'s JSON of one image; None when it has none
    (no Config.Healthcheck, no Test, or `HEALTHCHECK NONE`, which is Test ["NONE"])."""
    found = (attrs.get("Config") or {}).get("Healthcheck") or {}
    test = tuple(str(word) for word in found.get("Test") or ())
    if not test or test[0] == "NONE":
        return None
    return ImageHealthcheck(
        test=test,
        interval=_seconds(found.get("Interval")),
        start_period=_seconds(found.get("StartPeriod")),
        start_interval=_seconds(found.get("StartInterval")),
    )


def _seconds(nanoseconds: object) -> float | None:
    """Docker's durations are nanoseconds; 0 (or none) means Docker's default."""
    if isinstance(nanoseconds, int | float) and nanoseconds > 0:
        return float(nanoseconds) / NANOSECONDS
    return None


def read(client: Any, name: str) -> ImageLook:
    """What the engine `client` talks to has under `name` (the SDK's `images.get`)."""
    try:
        attrs = client.images.get(name).attrs
    except docker.errors.ImageNotFound:
        return ImageLook(name, present=False)
    return ImageLook(name, present=True, healthcheck=from_inspect(attrs))


def relying_on_image(model: ComposeModel, names: list[str]) -> list[ServiceModel]:
    """The named services whose Compose files set no healthcheck test: Docker runs the
    image's (a disabled one, and a missing service, are refusals of their own)."""
    found = [model.service(name) for name in names]
    return [service for service in found if service and service.healthcheck == "image"]


def missing(service: str, name: str) -> str:
    """The build stage's failure, and doctor's, for an image without a healthcheck."""
    return f"{service}: expected a healthcheck in image {name}, got none: {FIX}"


def offline_warnings(model: ComposeModel, names: list[str]) -> list[str]:
    """check-config's warning, without an engine: the image must have a HEALTHCHECK."""
    return [
        f"service {service.name} sets no `healthcheck:` in the Compose files: its image must "
        "have a HEALTHCHECK, checked after each build (without one every deploy stops there), "
        "or the service a `healthcheck:`"
        for service in relying_on_image(model, names)
    ]


def judge(
    model: ComposeModel, names: list[str], looks: Mapping[str, ImageLook]
) -> tuple[list[str], list[str]]:
    """doctor's (refusals, warnings) from the images the services relying on them run or would
    run (`looks`: service -> what the engine has): none there is a warning (the build checks
    it), an image without a healthcheck a refusal."""
    refused, warned = [], []
    for service in relying_on_image(model, names):
        look = looks.get(service.name)
        if look is None:
            continue
        if not look.present:
            warned.append(
                f"service {service.name} sets no `healthcheck:` and its image {look.name} is not "
                "on the engine yet: the deploy checks its HEALTHCHECK after the build"
            )
        elif look.healthcheck is None:
            refused.append(f"zero_downtime: {missing(service.name, look.name)}")
    return refused, warned
