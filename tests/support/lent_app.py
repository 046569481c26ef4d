"""One sample app lent to test after test of a module, each of which must hand it back as
the module found it (a deploy that failed or was reverted): a new app costs 2 to 4 s (origin,
clone, build, up, migrate, healthy), times every test.

Before each test the origin's main is put back at v1, so every test's commits start from v1
as on a fresh app. After each test the app must be exactly as it was made (commit, version,
services and their images, database dump, role, .env, no git lock, no hook): a test that left
it otherwise fails its teardown, naming what differs, and the next test gets a fresh app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support import git_repo
from tests.support.commands import run
from tests.support.sample_app import SampleApp

ROLE = "SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'app'"
DATABASES = "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"


def state_of(app: SampleApp) -> dict[str, Any]:
    """What a test must leave as it found it: everything a fresh app's test would start from."""
    git_dir = app.checkout / ".git"
    hooks = [hook.name for hook in (git_dir / "hooks").iterdir() if hook.suffix != ".sample"]
    return {
        "commit": app.checked_out(),
        "version": app.running_version(),
        "images": app.image_ids(),
        "containers": containers(app),
        "dump": app.dump(),
        "role": app.psql_as_superuser(ROLE),
        "databases": app.psql_as_superuser(DATABASES),
        ".env": (app.checkout / ".env").read_text(),
        "git locks": sorted(path.name for path in git_dir.glob("*.lock")),
        "hooks": sorted(hooks),
    }


def containers(app: SampleApp) -> list[str]:
    """Every container of the app's project, stopped ones too: "service state exit-code"."""
    listing = run(
        ["docker", "ps", "--all", "--filter", f"label=com.docker.compose.project={app.project}",
         "--format", '{{.Label "com.docker.compose.service"}} {{.State}}'],
        env=app.engine.env,
    ).stdout  # fmt: skip
    return sorted(listing.split("\n")[:-1])


class LentApp:
    """Lends one sample app (made by `make`) to one test at a time; see the module's doc."""

    def __init__(self, make: Callable[[], SampleApp]) -> None:
        self.make = make
        self.app: SampleApp | None = None
        self.made: dict[str, Any] = {}

    def lend(self) -> SampleApp:
        """The app at v1, origin included, as it was made."""
        if self.app is None:
            self.app = self.make()
            self.made = state_of(self.app)
        else:  # the last test's commits are left out of main, as on a fresh origin
            git_repo.git(self.app.author, "checkout", "--quiet", "-B", "main", self.app.v1)
            git_repo.git(self.app.author, "push", "--quiet", "--force", "origin", "main")
        return self.app

    def take_back(self) -> None:
        """Check the app is as it was made; otherwise stop it and raise what differs."""
        if self.app is None:
            return
        now = state_of(self.app)
        changed = {key: (self.made[key], now[key]) for key in now if now[key] != self.made[key]}
        if not changed:
            return
        app, self.app = self.app, None
        app.stop()
        shown = "; ".join(f"{key}: expected {old!r:.300}, got {new!r:.300}" for key, (old, new)
                          in changed.items())  # fmt: skip
        raise AssertionError(f"the test left the lent sample app changed: {shown}")

    def close(self) -> None:
        if self.app is not None:
            self.app.stop()
            self.app = None
