"""An image's own HEALTHCHECK for a zero-downtime service without a Compose one: read from
`docker image inspect`, and what check-config, doctor and the slow-first-check warning say."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.compose.image_healthcheck import (
    ImageHealthcheck,
    from_inspect,
    image_name,
)
from jobs.compose.model import ServiceModel

SECOND = 1_000_000_000  # Docker's durations are nanoseconds
PROBE = ["CMD", "python3", "-m", "app.probe"]
CHECKED = ImageHealthcheck(("CMD", "python3", "-m", "app.probe"), interval=1.0, start_period=25.0)
FROM_IMAGE = ServiceModel(name="api", image=None, builds=True, healthcheck="image")
OWN = ServiceModel(name="api", image=None, builds=True, healthcheck="compose")


def named(service: ServiceModel, name: str) -> ServiceModel:
    return ServiceModel(**{**vars(service), "name": name})


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"Config": {"Healthcheck": {"Test": PROBE, "Interval": SECOND,
                                     "StartPeriod": 25 * SECOND, "Retries": 2}}}, CHECKED),
        ({"Config": {"Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"]}}},
         ImageHealthcheck(("CMD-SHELL", "curl -f localhost"))),  # Docker's default timings
        ({"Config": {"Healthcheck": {"Test": PROBE, "StartPeriod": 20 * SECOND,
                                     "StartInterval": SECOND // 2}}},
         ImageHealthcheck(tuple(PROBE), start_period=20.0, start_interval=0.5)),
        ({"Config": {"Healthcheck": {"Test": ["NONE"]}}}, None),  # HEALTHCHECK NONE
        ({"Config": {"Healthcheck": {"Test": []}}}, None),
        ({"Config": {"Healthcheck": None}}, None),
        ({"Config": {"Cmd": ["python3"]}}, None),  # no HEALTHCHECK at all
        ({"Config": None}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_from_inspect_reads_the_image_healthcheck(
    attrs: dict[str, Any], expected: ImageHealthcheck | None
) -> None:
    """Config.Healthcheck with a Test other than ["NONE"] is one; its timings in seconds."""
    assert from_inspect(attrs) == expected


def test_image_name_is_the_image_or_compose_s_own() -> None:
    """A service's `image:`, else the `<project>-<service>` Compose builds."""
    assert image_name(FROM_IMAGE, "crm_dev") == "crm_dev-api"
    named = ServiceModel(name="api", image="registry.example.com/api:2", builds=False)
    assert image_name(named, "crm_dev") == "registry.example.com/api:2"
