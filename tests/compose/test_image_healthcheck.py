"""An image's own HEALTHCHECK for a zero-downtime service without a Compose one: read from
`docker image inspect`, and what check-config, doctor and the slow-first-check warning say."""

from __future__ import annotations

from typing import Any

import pytest

from config import parse_settings
from jobs.compose.image_healthcheck import (
    ImageHealthcheck,
    ImageLook,
    from_inspect,
    judge,
    offline_warnings,
)
from jobs.compose.model import ComposeModel, ServiceModel
from jobs.compose.zero_downtime import first_check_seconds, slow_first_checks
from jobs.doctor.compose_checks import check_zero_downtime
from tests.compose.test_zero_downtime import ENVIRONMENT

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
    assert FROM_IMAGE.image_name("crm_dev") == "crm_dev-api"
    named = ServiceModel(name="api", image="registry.example.com/api:2", builds=False)
    assert named.image_name("crm_dev") == "registry.example.com/api:2"


def test_offline_warning_says_the_image_must_have_one() -> None:
    """check-config warns (no refusal) for a service relying on its image, and for no other."""
    model = ComposeModel(
        {"api": FROM_IMAGE, "web": named(OWN, "web"), "db": named(FROM_IMAGE, "db")}
    )
    assert offline_warnings(model, ["api", "web", "gone"]) == [
        "service api sets no `healthcheck:` in the Compose files: its image must have a "
        "HEALTHCHECK, checked after each build (without one every deploy stops there), or the "
        "service a `healthcheck:`"
    ]


def test_doctor_judges_the_image_there_is() -> None:
    """An image with a healthcheck is fine, one without fails with the fix, none there warns."""
    model = ComposeModel(
        {
            "api": FROM_IMAGE,
            "web": named(FROM_IMAGE, "web"),
            "jobs": named(FROM_IMAGE, "jobs"),
            "own": named(OWN, "own"),
        }
    )
    looks = {
        "api": ImageLook("crm-api", present=True, healthcheck=CHECKED),
        "web": ImageLook("crm-web", present=True),
        "jobs": ImageLook("crm-jobs", present=False),
        "own": ImageLook("crm-own", present=True),  # its Compose healthcheck counts
    }
    assert judge(model, ["api", "web", "jobs", "own"], looks) == (
        ["zero_downtime: web: expected a healthcheck in image crm-web, got none: add a "
         "`healthcheck:` to the service or a HEALTHCHECK to its image"],
        ["service jobs sets no `healthcheck:` and its image crm-jobs is not on the engine yet: "
         "the deploy checks its HEALTHCHECK after the build"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("service", "image", "seconds"),
    [
        (FROM_IMAGE, CHECKED, 1.0),
        (FROM_IMAGE, ImageHealthcheck(("CMD", "true")), 30.0),  # Docker's default interval
        (FROM_IMAGE, ImageHealthcheck(("CMD", "true"), 30.0, 20.0, 1.0), 1.0),
        (ServiceModel(**{**vars(FROM_IMAGE), "health_interval": "2s"}), CHECKED, 2.0),
        (ServiceModel(**{**vars(OWN), "health_start_period": "10s"}),
         ImageHealthcheck(("CMD", "true"), 30.0, None, 0.5), 0.5),  # merged field by field
        (OWN, None, 30.0),
    ],
)  # fmt: skip
def test_first_check_takes_what_compose_leaves_unset_from_the_image(
    service: ServiceModel, image: ImageHealthcheck | None, seconds: float
) -> None:
    """Docker merges a container's healthcheck with its image's, one timing at a time."""
    assert first_check_seconds(service, image) == seconds


def test_slow_first_checks_use_the_image_when_doctor_has_it() -> None:
    """Offline a service relying on its image is left out (its timing is unknown); with the
    image, its interval counts, and the warning says where it came from."""
    slow = ImageHealthcheck(("CMD", "true"), interval=15.0)
    model = ComposeModel({"api": FROM_IMAGE, "web": named(FROM_IMAGE, "web")})
    assert slow_first_checks(model, ["api", "web"]) == []
    assert slow_first_checks(model, ["api", "web"], {"api": slow, "web": CHECKED}) == [
        "service api: Docker runs a new container's first healthcheck 15s after its start "
        "(interval 15s in the image), and each swap waits for it; set `start_period` with "
        "`start_interval: 1s` (Docker 25 and later), or a shorter `interval`"
    ]


@pytest.mark.parametrize(
    ("looks", "status", "says"),
    [
        (None, "warn", "its image must have a HEALTHCHECK, checked after each build"),
        ({"api": ImageLook("crm_dev-api", True, CHECKED)}, "ok", "api can swap without downtime"),
        ({"api": ImageLook("crm_dev-api", True)}, "fail",
         "zero_downtime: api: expected a healthcheck in image crm_dev-api, got none"),
        ({"api": ImageLook("crm_dev-api", False)}, "warn",
         "its image crm_dev-api is not on the engine yet"),
    ],
)  # fmt: skip
def test_doctor_finding_for_a_healthcheck_in_the_image(
    looks: dict[str, ImageLook] | None, status: str, says: str
) -> None:
    """doctor with the engine: fine with the image's healthcheck, fail without, warn when the
    image is not there; without the engine it says what check-config says."""
    environment = parse_settings(
        ENVIRONMENT.replace("PATH", "/srv/crm"), "test.yml", {}
    ).environment("crm", "dev")
    finding = check_zero_downtime("crm/dev", environment, ComposeModel({"api": FROM_IMAGE}), looks)
    assert finding is not None and finding.status == status, finding
    assert says in finding.detail, finding.detail
