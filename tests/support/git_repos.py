"""A bare origin, an author clone and a deploy checkout, for tests that need only git."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support import git_repo
from tests.support.git_repo import git


@dataclass
class Repos:
    origin: Path
    author: Path
    checkout: Path

    def commit(self, files: dict[str, str], message: str, branch: str = "main") -> str:
        return git_repo.commit(self.author, dict(files), message, branch)

    def tag(self, name: str, sha: str, annotated: bool = True) -> None:
        git(self.author, "tag", *(["-a", "-m", name] if annotated else []), name, sha)
        git(self.author, "push", "--quiet", "origin", f"refs/tags/{name}")

    def head(self) -> str:
        return git(self.checkout, "rev-parse", "HEAD")


def make_repos(root: Path, files: dict[str, str] | None = None) -> Repos:
    template = root / "template"
    template.mkdir()
    for name, content in (files or {"README": "v1\n"}).items():
        (template / name).write_text(content)
    repos = Repos(root / "origin.git", root / "author", root / "checkout")
    git_repo.create_origin(template, repos.origin, repos.author, "v1")
    git(root, "clone", "--quiet", repos.origin.as_uri(), str(repos.checkout))
    return repos
