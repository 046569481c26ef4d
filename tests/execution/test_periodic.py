"""The worker's side-thread loop: rounds on time, a Redis outage skips a round, halt stops it."""

from __future__ import annotations

import logging
import threading

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from jobs.execution.periodic import start_periodic


def test_a_redis_outage_skips_one_round_and_halt_stops_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A round that hits a Redis error is logged by type only and the next round still runs."""
    rounds: list[int] = []
    third = threading.Event()

    def tick() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RedisConnectionError("redis://:hunter2@db:6379 refused")
        if len(rounds) == 3:
            third.set()

    with caplog.at_level(logging.WARNING):
        halt = start_periodic("test-loop", 0.01, tick, logging.getLogger("test"))
        assert third.wait(5), f"expected 3 rounds, got {len(rounds)}"
        halt()
    count = len(rounds)
    third.wait(0.05)
    assert len(rounds) == count, "halt() must stop further rounds"
    assert "ConnectionError" in caplog.text
    assert "hunter2" not in caplog.text


def test_first_wait_delays_the_first_round() -> None:
    """With first_wait the first round comes after one interval, not at start."""
    ran = threading.Event()
    halt = start_periodic(
        "test-wait", 30, ran.set, logging.getLogger("test"), first_wait=True, join_timeout=1
    )
    assert not ran.wait(0.2)
    halt()
