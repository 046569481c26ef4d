"""Deploy ids never collide and a record is never overwritten, even all in the same instant."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import Job

from config import Settings, load_settings
from jobs.state import ids, keys
from jobs.state.ids import DEPLOY_ID, ENDS_WITH_DEPLOY_ID, new_deploy_id
from jobs.state.records import Deploy, DeployStore, RecordError
from jobs.state.submit import DeployRequest, Submitted, submit

THREADS, PER_THREAD = 32, 500
INSTANT = 1_790_000_000.123


@pytest.fixture
def settings(example_config_path: Path) -> Settings:
    return load_settings(example_config_path, {"CRM_WEBHOOK_SECRET": "s3cret-for-the-tests"})


def request(delivery: str) -> DeployRequest:
    return DeployRequest("crm", "dev", "branch", "main", "a" * 40, "github push", delivery)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("d-20261127-161530-483-9f1c2a7be04d8c11", True),
        ("d-20260101-120000-abcdef", True),  # ids of older versions stay readable
        ("d-20261127-161530-483-9f1c2a7be04d8c1", False),
        ("d-20261127-161530-9f1c2a7be04d8c11", False),
        ("d-20261127-161530-483-9F1C2A7BE04D8C11", False),
        ("d-20261127-161530-483-9f1c2a7be04d8c11\n", False),
        ("../d-20261127-161530-483-9f1c2a7be04d8c11", False),
        ("", False),
    ],
)
def test_deploy_id_pattern(text: str, valid: bool) -> None:
    """One full-match pattern accepts new and old ids and refuses anything else."""
    assert bool(DEPLOY_ID.match(text)) is valid


def test_new_ids_sort_by_time_and_match_the_pattern() -> None:
    """Ids carry the UTC time to the millisecond, so they sort by creation time."""
    earlier, later = new_deploy_id(INSTANT), new_deploy_id(INSTANT + 0.001)
    assert earlier.startswith("d-20260921-") and earlier < later
    assert DEPLOY_ID.match(earlier) and ENDS_WITH_DEPLOY_ID.search(f"dev-x-{earlier}")


def test_create_refuses_to_overwrite_a_record(redis_conn: redis.Redis) -> None:
    """Writing a record whose id exists raises and leaves the first record as it was."""
    store = DeployStore(redis_conn)
    first = Deploy(new_deploy_id(), "crm", "dev", "branch", "main", "a" * 40, "first")
    store.create(first)
    with pytest.raises(RecordError, match="already exists"):
        store.create(Deploy(first.id, "crm", "dev", "branch", "main", "b" * 40, "second"))
    assert store.get(first.id).trigger == "first"


def test_submit_draws_again_instead_of_overwriting(
    redis_conn: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An id that already has a record (or a job) is never reused: submit draws a new one."""
    store = DeployStore(redis_conn)
    taken = Deploy(new_deploy_id(), "crm", "dev", "branch", "main", "b" * 40, "earlier")
    store.create(taken)
    job_only = new_deploy_id()
    Queue("other", connection=redis_conn).enqueue_call("builtins.print", job_id=job_only)
    drawn = itertools.chain([taken.id, job_only], iter(new_deploy_id, None))
    monkeypatch.setattr("jobs.state.submit.new_deploy_id", lambda: next(drawn))
    result = submit(redis_conn, settings, [request("guid-new")], "github:1:guid-new")
    assert isinstance(result, Submitted)
    fresh = result.deploys[0]
    assert fresh.id not in (taken.id, job_only)
    assert store.get(taken.id).trigger == "earlier"
    assert Job.fetch(job_only, connection=redis_conn).func_name == "builtins.print"


@pytest.fixture
def one_instant(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every id drawn in this test carries the same millisecond: only its random bits differ."""
    monkeypatch.setattr(ids.time, "time", lambda: INSTANT)
    yield


@pytest.mark.usefixtures("one_instant")
def test_32_threads_x_500_submissions_in_one_instant(
    redis_conn: redis.Redis, settings: Settings
) -> None:
    """16,000 submissions in the same millisecond: each its own id, record and job; none lost."""

    def burst(thread: int) -> list[tuple[str, str]]:
        done = []
        for number in range(PER_THREAD):
            delivery = f"guid-{thread}-{number}"
            result = submit(redis_conn, settings, [request(delivery)], f"github:1:{delivery}")
            assert isinstance(result, Submitted)
            done.append((result.deploys[0].id, delivery))
        return done

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        acknowledged = [pair for chunk in pool.map(burst, range(THREADS)) for pair in chunk]
    total = THREADS * PER_THREAD
    assert len({deploy_id for deploy_id, _ in acknowledged}) == total
    assert len({deploy_id[:22] for deploy_id, _ in acknowledged}) == 1  # one instant indeed
    queue = Queue("deploys.local", connection=redis_conn)
    records = redis_conn.mget([keys.deploy(deploy_id) for deploy_id, _ in acknowledged])
    overwritten = [
        deploy_id
        for (deploy_id, delivery), raw in zip(acknowledged, records, strict=True)
        if raw is None or Deploy.from_json(raw).delivery_id != delivery
    ]
    assert overwritten == []
    assert set(queue.job_ids) == {deploy_id for deploy_id, _ in acknowledged}
