"""doctor's verdicts on Sentinel and replicas, and check-config's line about Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config import parse_settings
from jobs.doctor.check import Status
from jobs.doctor.replication import judge_replicas, judge_sentinels
from jobs.doctor.summary import redis_line
from jobs.state.replication import SentinelAnswer
from tests.support.deliveries import SECRETS, config_text

UP = "10.0.0.1:6379"


def _good(where: str, master: str = UP) -> SentinelAnswer:
    return SentinelAnswer(where, master=master, flags="master", other_sentinels=2, quorum=2)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([_good("a:1"), _good("b:1"), _good("c:1")], [Status.OK] * 3),
        (
            [_good("a:1"), _good("b:1"), SentinelAnswer("c:1", problem="ConnectionError")],
            [Status.OK, Status.OK, Status.FAIL],
        ),
        ([_good("a:1"), _good("b:1"), SentinelAnswer("c:1")], [Status.OK, Status.OK, Status.FAIL]),
        (
            [_good("a:1"), _good("b:1"), _good("c:1", "10.0.0.2:6379")],
            [Status.OK] * 3 + [Status.FAIL],
        ),
        ([_good("a:1")], [Status.OK, Status.WARN]),
        (
            [SentinelAnswer("a:1", master=UP, flags="master,s_down,o_down", quorum=2)] * 3,
            [Status.FAIL] * 3,
        ),
    ],
    ids=["all-agree", "one-silent", "one-unaware", "disagree", "too-few", "master-down"],
)
def test_sentinel_verdicts(answers: list[SentinelAnswer], expected: list[Status]) -> None:
    """Each sentinel is judged on its own; disagreement and fewer than three add a finding."""
    findings = judge_sentinels(answers, "deployhook")
    assert [finding.status for finding in findings] == expected
    for finding in findings:
        assert (finding.fix != "") == (finding.status != Status.OK)


@pytest.mark.parametrize(
    ("online", "required", "expected"),
    [
        ([], 1, Status.FAIL),
        (["10.0.0.2:6379 lag 0 s"], 1, Status.WARN),
        (["10.0.0.2:6379 lag 0 s", "10.0.0.3:6379 lag 1 s"], 1, Status.OK),
        (["10.0.0.2:6379 lag 0 s"], 2, Status.FAIL),
    ],
)
def test_replica_verdicts(online: list[str], required: int, expected: Status) -> None:
    """Fewer replicas than must acknowledge fail (every push would get 503); exactly as many
    warn (a failover leaves too few); one spare is fine."""
    finding = judge_replicas(online, required)
    assert finding.status == expected
    if expected == Status.FAIL:
        assert "503" in finding.detail


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({}, "the embedded Redis; a 202 waits for no replica"),
        ({"url": "redis://:pw@10.0.0.1/0"}, "redis.url; a 202 waits for no replica"),
        (
            {"url": "redis://10.0.0.1/0", "replicas": 1, "replica_timeout": 0.5},
            "redis.url; a 202 waits for 1 replica(s), 0.5 s at most",
        ),
        (
            {"sentinel": {"sentinels": ["10.0.0.1:26379", "10.0.0.2:26379"], "password": "pw"}},
            "master 'deployhook' through the sentinels 10.0.0.1:26379, 10.0.0.2:26379; "
            "a 202 waits for 1 replica(s), 1 s at most",
        ),
    ],
)
def test_check_config_says_where_redis_is_and_what_a_202_waits_for(
    section: dict[str, Any], expected: str, tmp_path: Path
) -> None:
    """check-config's redis line: the mode and the replica wait, never a password."""
    text = config_text(tmp_path) + (yaml.safe_dump({"redis": section}) if section else "")
    line = redis_line(parse_settings(text, "test", SECRETS))
    assert line == expected
    assert "pw" not in line
