"""Longest modules first: the order `--dist loadfile` hands whole modules to the workers.

With whole modules per worker, the suite ends when the last long module ends; handing out the
longest first (longest-processing-time-first scheduling) keeps a long one from starting late
and running alone at the end. The weights are each module's seconds from a recorded run,
kept in tests/module_seconds.json (`scripts/test --record-module-seconds
tests/module_seconds.json` refreshes them); a module the file does not know yet counts as
slow when it uses Docker or is an end-to-end test or a drill.

xdist's own default reorders modules by their number of tests, which puts the modules of a
hundred fast table tests first and the e2e modules of three long tests last: scripts/test
turns that off (`--no-loadscope-reorder`), so this order is the one used.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

SECONDS_FILE = Path(__file__).resolve().parent.parent / "module_seconds.json"
UNKNOWN_SLOW_SECONDS = 60.0


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def recorded_seconds(path: Path = SECONDS_FILE) -> dict[str, float]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return (
        {str(key): float(value) for key, value in loaded.items()}
        if isinstance(loaded, dict)
        else {}
    )


def weight(item: pytest.Item, seconds: dict[str, float]) -> float:
    module = module_of(item.nodeid)
    if module in seconds:
        return seconds[module]
    path = str(item.path)
    slow = item.get_closest_marker("docker") or "_e2e" in path or "/drills/" in path
    return UNKNOWN_SLOW_SECONDS if slow else 0.0


def longest_first(items: list[pytest.Item], seconds: dict[str, float]) -> list[pytest.Item]:
    """Modules by descending weight (ties keep collection order), each module's order kept."""
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        first_index.setdefault(module_of(item.nodeid), index)
    return sorted(
        items,
        key=lambda item: (-weight(item, seconds), first_index[module_of(item.nodeid)]),
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-module-seconds",
        metavar="PATH",
        help="write each module's seconds (setup, call and teardown summed) to PATH as JSON",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items[:] = longest_first(items, recorded_seconds())


class ModuleClock:
    """Sums the durations the reports carry, per module (on xdist's controller: all workers')."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[module_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self) -> None:
        ordered = dict(sorted(self.seconds.items(), key=lambda pair: -pair[1]))
        rounded = {module: round(value, 1) for module, value in ordered.items()}
        self.path.write_text(json.dumps(rounded, indent=1) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--record-module-seconds")
    if target and not hasattr(config, "workerinput"):  # the controller sees every report
        config.pluginmanager.register(ModuleClock(Path(target)), "module-clock")
