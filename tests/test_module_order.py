"""The order whole modules are handed to the workers: longest recorded first."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from tests.support.module_order import UNKNOWN_SLOW_SECONDS, longest_first, recorded_seconds


@dataclass
class FakeItem:
    nodeid: str
    markers: set[str] = field(default_factory=set)

    @property
    def path(self) -> Path:
        return Path("/repo") / self.nodeid.split("::", 1)[0]

    def get_closest_marker(self, name: str) -> Any:
        return name if name in self.markers else None


def _order(items: list[FakeItem], seconds: dict[str, float]) -> list[str]:
    ordered = longest_first(cast(list[pytest.Item], items), seconds)
    return [item.nodeid for item in cast(list[FakeItem], ordered)]


def test_modules_go_longest_first_and_keep_their_own_order() -> None:
    items = [
        FakeItem("tests/a.py::one"),
        FakeItem("tests/b_e2e.py::one"),
        FakeItem("tests/a.py::two"),
        FakeItem("tests/b_e2e.py::two"),
        FakeItem("tests/c.py::one"),
    ]
    seconds = {"tests/a.py": 1.0, "tests/b_e2e.py": 300.0, "tests/c.py": 20.0}
    assert _order(items, seconds) == [
        "tests/b_e2e.py::one",
        "tests/b_e2e.py::two",
        "tests/c.py::one",
        "tests/a.py::one",
        "tests/a.py::two",
    ]


@pytest.mark.parametrize(
    ("nodeid", "markers", "expected_first"),
    [
        ("tests/new_e2e.py::t", set(), True),
        ("tests/drills/test_new.py::t", set(), True),
        ("tests/test_new.py::t", {"docker"}, True),
        ("tests/test_new.py::t", set(), False),
    ],
)
def test_an_unrecorded_module_counts_as_slow_when_it_looks_slow(
    nodeid: str, markers: set[str], expected_first: bool
) -> None:
    """A module the file does not know: Docker, e2e or drill counts UNKNOWN_SLOW_SECONDS."""
    seconds = {"tests/known.py": UNKNOWN_SLOW_SECONDS / 2}
    order = _order([FakeItem("tests/known.py::t"), FakeItem(nodeid, markers)], seconds)
    assert (order[0] == nodeid) is expected_first, order


def test_a_missing_or_broken_seconds_file_gives_no_weights(tmp_path: Path) -> None:
    assert recorded_seconds(tmp_path / "absent.json") == {}
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert recorded_seconds(broken) == {}
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([1, 2]))
    assert recorded_seconds(listed) == {}


def test_the_recorded_file_names_only_modules_that_exist() -> None:
    """A module moved or renamed leaves a stale weight behind: refresh the file then."""
    root = Path(__file__).resolve().parent.parent
    stale = [module for module in recorded_seconds() if not (root / module).is_file()]
    assert stale == [], f"tests/module_seconds.json names missing modules: {stale}"
