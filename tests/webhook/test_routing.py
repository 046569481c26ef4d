"""Routing: which environments a push deploys, as one pure function over the triggers."""

from __future__ import annotations

import pytest

from config import Project
from webhook.push import Push
from webhook.routing import route


def _project(triggers: dict[str, dict[str, str]]) -> Project:
    environments = {
        name: {
            "trigger": trigger,
            "path": f"/srv/{name}",
            "compose": {"files": ["compose.yml"], "project": name},
            "health": {"url": "http://127.0.0.1:8000/healthz"},
        }
        for name, trigger in triggers.items()
    }
    return Project.model_validate(
        {
            "repo": "github.com/acme/crm",
            "provider": "github",
            "secret": "s3cret-for-the-tests",
            "environments": environments,
        }
    )


PROJECT = _project(
    {
        "dev": {"branch": "main"},
        "staging": {"branch": "release/next"},
        "star": {"branch": "*"},
        "shell": {"branch": "feature/$(id)`x`;|&"},
        "prod": {"tag": "v*"},
        "rc": {"tag": "v*-rc[0-9]"},
        "unicode": {"branch": "déploiement/日本"},
        "nested": {"branch": "refs/tags/x"},
    }
)


def _push(kind: str, name: str) -> Push:
    return Push(
        provider="github",
        repository="acme/crm",
        repository_host="github.com",
        ref_kind=kind,  # type: ignore[arg-type]
        ref_name=name,
        sha="a" * 40,
        before="b" * 40,
        pusher="mona",
        delivery_id="d",
    )


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("branch", "main", ["dev"]),
        ("branch", "Main", []),
        ("branch", "main2", []),
        ("branch", "mai", []),
        ("branch", "release/next", ["staging"]),
        ("branch", "release/nex", []),
        ("branch", "anything", []),  # a branch trigger "*" is a literal name, not a glob
        ("branch", "*", ["star"]),
        ("branch", "feature/$(id)`x`;|&", ["shell"]),
        ("branch", "feature/$(id)", []),
        ("branch", "déploiement/日本", ["unicode"]),
        ("branch", "deploiement/日本", []),
        ("branch", "refs/tags/x", ["nested"]),  # refs/heads/refs/tags/x is a branch
        ("tag", "refs/tags/x", []),
        ("branch", "v1.0.0", []),  # a branch named like a release tag deploys nothing
        ("tag", "v1.0.0", ["prod"]),
        ("tag", "v1.0.0-rc1", ["prod", "rc"]),
        ("tag", "v1.0.0-rcX", ["prod"]),
        ("tag", "V1.0.0", []),  # globs are case-sensitive
        ("tag", "1.0.0", []),
        ("tag", "main", []),
        ("tag", "v" + "9" * 250, ["prod"]),
        ("branch", "main" + "/x" * 120, []),
    ],
)
def test_route(kind: str, name: str, expected: list[str]) -> None:
    """Branches match exactly, tags match globs, and the two kinds never cross."""
    assert route(PROJECT, _push(kind, name)) == expected
