"""A zero-downtime service whose healthcheck is only in its image's Dockerfile, behind Caddy.

Its own bed: tests/zdt_app with the api's `healthcheck:` moved out of the Compose file into a
`HEALTHCHECK` of its Dockerfile (Docker runs the image's when Compose sets none). The tests
deploy on top of each other, in order: a good release swaps rolling with 0 failed requests;
then a release whose image has no healthcheck at all stops at the build stage, before any
change, while the version before keeps serving.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from config import Settings
from jobs.compose.image_healthcheck import ImageHealthcheck, ImageLook
from jobs.compose.model import ComposeModel, ServiceModel
from jobs.doctor.compose_checks import check_zero_downtime, look_at_images
from jobs.runbook.stages.build import commit_tag
from jobs.state.records import DeployStore
from tests.support.deploying import config_for, deploy
from tests.support.failures import assert_cause
from tests.support.zdt_bed import TEMPLATE, BedStarter, Clients, ProxyBed

pytestmark = pytest.mark.docker

# The Compose healthcheck of tests/zdt_app/docker-compose.yml, as the image's own.
HEALTHCHECK = (
    "HEALTHCHECK --interval=1s --timeout=10s --start-period=25s --retries=2 "
    'CMD ["python3", "-m", "app.probe"]\n'
)


def image_health_app(root: Path) -> Path:
    """A copy of tests/zdt_app whose api has its healthcheck in its Dockerfile only."""
    app = root / "app"
    shutil.copytree(TEMPLATE, app, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compose = yaml.safe_load((app / "docker-compose.yml").read_text())
    del compose["services"]["api"]["healthcheck"]
    (app / "docker-compose.yml").write_text(yaml.safe_dump(compose, sort_keys=False))
    dockerfile = app / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + HEALTHCHECK)
    return app


@pytest.fixture(scope="module")
def bed(
    start_proxy_bed: BedStarter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyBed]:
    """The app at v1, its healthcheck in its image only, used through Caddy."""
    root = tmp_path_factory.mktemp("image-health")
    with start_proxy_bed(root, template=image_health_app(root)) as bed:
        yield bed


@pytest.fixture(scope="module")
def settings(bed: ProxyBed, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    config = config_for(bed.environment_config(), tmp_path_factory.mktemp("state"), redis_url)
    return Settings.model_validate(config)


def test_a_healthcheck_only_in_the_image_swaps_without_a_failed_request(
    bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
) -> None:
    """No `healthcheck:` in the Compose file, a HEALTHCHECK in the image: not refused; the new
    image's healthcheck is found after the build, and the swap waits for Docker to call the new
    container healthy by it: 0 failed requests through Caddy, v1 then only v2 answering."""
    with Clients(bed.port) as clients:
        record = deploy(settings, redis_conn, bed.release("v2", "good"))
    assert record.state == "succeeded", record.error
    assert clients.failed() == [], [vars(a) for a in clients.failed()[:5]]
    answered = [answer.version for answer in clients.answers if answer.version]
    assert set(answered) == {"v1", "v2"} and answered[-1] == "v2", clients.versions()
    log = DeployStore(redis_conn).log(record.id)
    assert any("api: image " in line and "has a healthcheck" in line for line in log), log


def test_a_release_whose_image_has_no_healthcheck_stops_at_the_build(
    bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
) -> None:
    """The release's Dockerfile drops the HEALTHCHECK: the build stage fails naming the
    service, the image and the fix, before the migration or the swap; v2 serves throughout,
    in the same container."""
    serving = bed.api_containers()
    dockerfile = (bed.author / "Dockerfile").read_text().replace(HEALTHCHECK, "")
    sha = bed.commit(
        {"Dockerfile": dockerfile, "VERSION": "v3\n"}, "Release v3 without a healthcheck"
    )
    with Clients(bed.port) as clients:
        record = deploy(settings, redis_conn, sha)
    assert record.state == "reverted" and record.failed_stage == "build", record.error
    image = f"{bed.project}-api"
    assert_cause(
        record,
        f"api: expected a healthcheck in image {image}, got none: add a `healthcheck:` to "
        "the service or a HEALTHCHECK to its image",
    )
    stages = [stage.name for stage in record.stages]
    assert stages[stages.index("build") + 1 :] == ["revert"], stages
    assert clients.failed() == [], [vars(a) for a in clients.failed()[:5]]
    assert clients.versions() and set(clients.versions()) == {"v2"}, clients.versions()
    assert bed.api_containers() == serving and bed.version() == "v2"


def test_doctor_reads_the_image_healthcheck_on_the_engine(
    bed: ProxyBed, settings: Settings
) -> None:
    """doctor asks the engine for the image a service relying on it runs: the running one's
    HEALTHCHECK is read (its 1 s interval: no late-first-check warning); the release built
    without one fails with the fix; an image not on the engine yet warns."""
    environment = settings.environment("sample", "dev")

    def finding(image: str | None) -> tuple[ImageLook, str, str]:
        model = ComposeModel({"api": ServiceModel(name="api", image=image, builds=True)})
        looks = look_at_images(environment, model)
        assert looks is not None
        found = check_zero_downtime("sample/dev", environment, model, looks)
        assert found is not None
        return looks["api"], found.status, found.detail

    look, status, detail = finding(None)  # <project>-api: v2, put back by the revert
    probe = ImageHealthcheck(("CMD", "python3", "-m", "app.probe"), 1.0, 25.0)
    assert look == ImageLook(f"{bed.project}-api", present=True, healthcheck=probe)
    assert status != "fail" and "first healthcheck" not in detail, detail
    without = f"{bed.project}-api:{commit_tag(bed.head())}"  # the release without one
    look, status, detail = finding(without)
    assert look.present and status == "fail", detail
    assert f"api: expected a healthcheck in image {without}, got none: add a" in detail
    look, status, detail = finding(f"{bed.project}-api:not-built")
    assert not look.present and status == "warn", detail
    assert "is not on the engine yet: the deploy checks its HEALTHCHECK after the build" in detail


def test_a_revert_to_an_image_without_a_healthcheck_recreates_it(
    bed: ProxyBed, tmp_path_factory: pytest.TempPathFactory, redis_url: str, redis_conn: redis.Redis
) -> None:
    """The version before has no healthcheck at all (deployed without zero_downtime); the
    release has one, swaps, then fails its health URL: the revert cannot swap back on a health
    state that never comes, so it recreates the previous version, which serves again."""
    plain = {**bed.environment_config(), "zero_downtime": []}
    plain["health"] = {key: v for key, v in plain["health"].items() if key != "port"}
    dockerfile = (bed.author / "Dockerfile").read_text()
    without = bed.commit({"VERSION": "v4\n"}, "Release v4, still without a healthcheck")
    record = deploy(_settings(plain, tmp_path_factory, redis_url), redis_conn, without)
    assert record.state == "succeeded" and bed.version() == "v4", record.error
    failing = bed.commit(
        {"Dockerfile": dockerfile + HEALTHCHECK, "VERSION": "v5\n", "BEHAVIOUR": "fails_after\n"},
        "Release v5: a healthcheck again, failing its health URL",
    )
    swapped = {**bed.environment_config(timeout=10)}
    record = deploy(_settings(swapped, tmp_path_factory, redis_url), redis_conn, failing)
    assert record.state == "reverted" and record.failed_stage == "health", record.error
    log = DeployStore(redis_conn).log(record.id)
    refused = f"api: expected a healthcheck in image {bed.project}-api, got none"
    assert any(refused in line and "recreated instead" in line for line in log), log
    assert bed.version() == "v4"


def _settings(
    environment: dict[str, object], tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Settings:
    config = config_for(environment, tmp_path_factory.mktemp("state"), redis_url)
    return Settings.model_validate(config)
