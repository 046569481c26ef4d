"""Real git repositories for tests: a bare origin, an author clone and a deploy checkout."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@dataclass
class Repos:
    origin: Path
    author: Path
    checkout: Path

    def commit(self, files: dict[str, str], message: str, branch: str = "main") -> str:
        if branch != self.current_branch():
            git(self.author, "checkout", "-q", "-B", branch)
        for name, content in files.items():
            path = self.author / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        git(self.author, "add", "-A")
        git(self.author, "commit", "-q", "-m", message)
        git(self.author, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return git(self.author, "rev-parse", "HEAD")

    def tag(self, name: str, sha: str, annotated: bool = True) -> None:
        args = ["tag", "-a", "-m", name, name, sha] if annotated else ["tag", name, sha]
        git(self.author, *args)
        git(self.author, "push", "-q", "origin", f"refs/tags/{name}")

    def current_branch(self) -> str:
        return git(self.author, "symbolic-ref", "--short", "HEAD")

    def head(self) -> str:
        return git(self.checkout, "rev-parse", "HEAD")


def make_repos(root: Path, files: dict[str, str] | None = None) -> Repos:
    origin, author, checkout = root / "origin.git", root / "author", root / "checkout"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(author)], check=True)
    git(author, "remote", "add", "origin", origin.as_uri())
    repos = Repos(origin, author, checkout)
    repos.commit(files or {"README": "v1\n"}, "v1")
    subprocess.run(["git", "clone", "-q", origin.as_uri(), str(checkout)], check=True)
    return repos
