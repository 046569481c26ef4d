"""The Docker test bed, for benchmarks: the tests' private engine, base image and sample app.

Nothing here is new: it strings together tests/support (engine, cached base image, sample app,
private Redis, deploy configuration) the way the pytest fixtures do, for scripts run by hand.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from config import Settings
from tests.support.deploying import config_for
from tests.support.docker_engine import Engine, running_engine
from tests.support.docker_fixtures import POINTED, find_compose
from tests.support.images import import_base_image
from tests.support.redis_server import running_redis
from tests.support.sample_app import SampleApp


@dataclass
class Bed:
    engine: Engine
    app: SampleApp
    settings: Settings
    redis: redis.Redis
    redis_url: str
    scratch: Path

    def config(self, **environment: Any) -> dict[str, Any]:
        """deployhook's configuration for the sample app, with environment keys overridden."""
        merged = {**self.app.environment_config(), **environment}
        return config_for(merged, self.scratch / "state", self.redis_url)


@contextmanager
def sample_bed(scratch: Path) -> Iterator[Bed]:
    """A private engine with the sample app at v1, running and healthy, and a private Redis."""
    with running_engine() as engine:
        # As the docker_engine fixture does: code under test runs docker and compose itself.
        os.environ.update({name: engine.env[name] for name in POINTED})
        compose = find_compose(engine)
        base = import_base_image(engine.env)
        with running_redis(scratch) as redis_url:
            root = scratch / "sample"
            root.mkdir()
            app = SampleApp.create(engine, compose, base, root)
            try:
                config = config_for(app.environment_config(), scratch / "state", redis_url)
                settings = Settings.model_validate(config)
                connection = redis.Redis.from_url(redis_url)
                yield Bed(engine, app, settings, connection, redis_url, scratch)
            finally:
                app.stop()


def on_sample_bed(prefix: str, body: Callable[[Bed], int]) -> int:
    """Print when and where, bring the bed up in a scratch directory, run `body`, tear down."""
    print(machine())
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch, sample_bed(Path(scratch)) as bed:
        return body(bed)


def seconds(action: Callable[[], object]) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def machine() -> str:
    """One line for the figures: when, on what, how loaded."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"{platform.platform(terse=True)}, Python {platform.python_version()}, load {load}"
    )


def ratio_line(name: str, ours: list[float], floor: list[float], target: float) -> bool:
    """Print the per-round ratios, their median (judged against the target) and the medians'
    ratio; True when the median of the per-round ratios meets the target."""
    mine, base = statistics.median(ours), statistics.median(floor)
    per_round = [a / b for a, b in zip(ours, floor, strict=True)]
    ratio = statistics.median(per_round)
    verdict = "PASS" if ratio <= target else "MISS"
    runs = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(ours, floor, strict=True))
    print(f"{verdict}  {name}: median of per-round ratios {ratio:.2f}x (target <= {target:.2f}x)")
    print(f"      per round: {', '.join(f'{r:.2f}x' for r in per_round)}")
    print(f"      seconds deployhook/baseline: {runs}; medians {mine:.2f}/{base:.2f} s "
          f"= {mine / base:.2f}x")  # fmt: skip
    return ratio <= target
