"""Where a test bed keeps its git repositories: one layout for every bed under one root."""

from __future__ import annotations

from pathlib import Path


class RepoLayout:
    """`root/origin.git` (the bare "git host"), `root/author` (a developer's clone that pushes
    to it) and `root/checkout` (the deploy checkout deployhook owns)."""

    root: Path

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def author(self) -> Path:
        return self.root / "author"

    @property
    def checkout(self) -> Path:
        return self.root / "checkout"
