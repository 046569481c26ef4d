"""Reporter fixtures: a deploy store on the real Redis (the provider server is shared)."""

from __future__ import annotations

import pytest
import redis

from jobs.state.records import DeployStore


@pytest.fixture
def store(redis_conn: redis.Redis) -> DeployStore:
    return DeployStore(redis_conn)
