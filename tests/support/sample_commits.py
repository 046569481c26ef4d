"""Authoring new commits in the sample app's origin, as a developer pushing would.

Commits go through a separate author clone, never the deploy checkout, so the checkout only
changes when something deploys.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from tests.support import git_repo, sample_scenarios


class Commits(ABC):
    """Commit, tag and scenario methods; `author` is the clone they are made in."""

    @property
    @abstractmethod
    def author(self) -> Path:
        """The clone commits are made in; the class mixing this in says where it lives."""

    def commit(self, files: Mapping[str, str | None], message: str, branch: str = "main") -> str:
        return git_repo.commit(self.author, files, message, branch)

    def tag(self, name: str, sha: str, annotated: bool = True) -> str:
        return git_repo.tag(self.author, name, sha, annotated)

    def head(self, branch: str = "main") -> str:
        git_repo.git(self.author, "fetch", "--quiet", "origin")
        return git_repo.git(self.author, "rev-parse", f"origin/{branch}")

    def _scenario(self, change: sample_scenarios.Change, branch: str) -> str:
        files, message = change
        return self.commit(files, message, branch)

    def good_change(self, branch: str = "main") -> str:
        return self._scenario(sample_scenarios.good_change(self.author, branch), branch)

    def broken_build(self, branch: str = "main") -> str:
        return self._scenario(sample_scenarios.broken_build(self.author, branch), branch)

    def failing_migration(self, branch: str = "main") -> str:
        return self._scenario(sample_scenarios.failing_migration(self.author, branch), branch)

    def failing_concurrent_index(self, branch: str = "main") -> str:
        change = sample_scenarios.failing_concurrent_index(self.author, branch)
        return self._scenario(change, branch)

    def destructive_migration_unhealthy_code(self, branch: str = "main") -> str:
        change = sample_scenarios.destructive_migration_unhealthy_code(self.author, branch)
        return self._scenario(change, branch)

    def never_healthy(self, branch: str = "main", hang: bool = False) -> str:
        return self._scenario(sample_scenarios.never_healthy(self.author, branch, hang), branch)

    def flapping_health(self, branch: str = "main") -> str:
        return self._scenario(sample_scenarios.flapping_health(self.author, branch), branch)

    def side_commit(self, branch: str = "side") -> str:
        return self._scenario(sample_scenarios.side_commit(self.author, branch), branch)
