"""A small real git origin and deploy checkout, and a configuration naming them (no Docker)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import Settings, load_settings
from tests.support import git_repo
from tests.support.users import SESSION_SECRET, TOKENS, shared_users_path

TOKEN = TOKENS["deployer"]


@dataclass
class Repo:
    origin: Path
    author: Path
    checkout: Path
    first: str

    def commit(self, note: str, branch: str = "main") -> str:
        return git_repo.commit(self.author, {"NOTE": note + "\n"}, note, branch)

    def tag(self, name: str, sha: str) -> None:
        git_repo.tag(self.author, name, sha, annotated=True)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    template = tmp_path / "template"
    template.mkdir()
    (template / "README").write_text("sample\n")
    origin, author, checkout = tmp_path / "origin.git", tmp_path / "author", tmp_path / "checkout"
    first = git_repo.create_origin(template, origin, author, "first")
    git_repo.git(tmp_path, "clone", "--quiet", origin.as_uri(), str(checkout))
    return Repo(origin, author, checkout, first)


def environment(checkout: Path, trigger: dict[str, str]) -> dict[str, Any]:
    return {
        "trigger": trigger,
        "path": str(checkout),
        "compose": {"files": ["docker-compose.yml"], "project": "op-test"},
        "database": {"service": "postgres", "user": "app", "name": "app_dev"},
        "health": {"url": "http://127.0.0.1:9/healthz", "timeout": 1},
    }


@pytest.fixture
def config_file(repo: Repo, tmp_path: Path, redis_url: str) -> Path:
    config = {
        "state_dir": str(tmp_path / "state"),
        "redis": {"url": redis_url},
        "auth": {
            "users_path": str(shared_users_path()),
            "sessions": {"secret": SESSION_SECRET},
        },
        "projects": {
            "app": {
                "repo": "example.com/acme/app",
                "provider": "github",
                "secret": "webhook-secret-for-tests",
                "environments": {
                    "dev": environment(repo.checkout, {"branch": "main"}),
                    "prod": environment(repo.checkout, {"tag": "v*"}),
                },
            }
        },
    }
    path = tmp_path / "deployhook.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def settings(config_file: Path) -> Settings:
    return load_settings(config_file)
