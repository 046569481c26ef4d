"""Normalising push payloads: the commit to deploy, validated refs and SHAs, safe errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from jobs.commands.git_names import ref_name_problem
from tests.support.deliveries import payload
from webhook.errors import BadRequest
from webhook.push import OtherRef, Push, parse_push

ZERO = "0" * 40


def _parse(provider: str, data: dict[str, Any]) -> Push:
    push = parse_push(provider, data, "delivery-1")  # type: ignore[arg-type]
    assert isinstance(push, Push)
    return push


def test_github_branch_push() -> None:
    """A GitHub branch push deploys `after` and keeps before, pusher and repository."""
    push = _parse("github", payload("github-push.json"))
    assert push == Push(
        provider="github",
        repository="acme/crm",
        repository_host="github.com",
        ref_kind="branch",
        ref_name="main",
        sha="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        before="9049f1265b7d61be4a8904a9a27120d2064dab3b",
        pusher="mona",
        delivery_id="delivery-1",
    )
    assert push.trigger == "github push"


def test_github_annotated_tag_deploys_head_commit() -> None:
    """For a tag, GitHub's `after` is the tag object; the commit to deploy is head_commit.id."""
    data = payload("github-push.json")
    data.update(ref="refs/tags/v1.4.0", before=ZERO, after="c" * 40)
    push = _parse("github", data)
    assert (push.ref_kind, push.ref_name, push.sha) == ("tag", "v1.4.0", data["head_commit"]["id"])
    assert push.trigger == "github tag push"


def test_gitlab_tag_push_deploys_checkout_sha() -> None:
    """GitLab's tag push deploys checkout_sha, not the tag object in `after`."""
    push = _parse("gitlab", payload("gitlab-tag-push.json"))
    assert (push.ref_kind, push.ref_name) == ("tag", "v1.4.0")
    assert push.sha == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert (push.repository, push.repository_host, push.pusher) == (
        "acme/platform/crm",
        "gitlab.example.com",
        "jsmith",
    )


def test_gitea_push() -> None:
    """A Gitea push reads the same fields as GitHub's."""
    push = _parse("gitea", payload("gitea-push.json"))
    assert (push.repository, push.ref_name, push.sha, push.pusher) == (
        "acme/crm",
        "main",
        "bffeb74224043ba2feb48d137756c8a9331c449a",
        "gitea-user",
    )


@pytest.mark.parametrize(
    ("provider", "name", "change"),
    [
        ("github", "github-push.json", {"deleted": True, "after": ZERO, "head_commit": None}),
        ("gitea", "gitea-push.json", {"after": ZERO, "head_commit": None}),
        ("gitlab", "gitlab-push.json", {"after": ZERO, "checkout_sha": None}),
    ],
)
def test_deleted_ref(provider: str, name: str, change: dict[str, Any]) -> None:
    """A deleted ref has no commit to deploy."""
    data = payload(name)
    data.update(change)
    assert _parse(provider, data).deleted


def test_sha256_repository() -> None:
    """64-digit SHA-256 commit ids are accepted."""
    data = payload("gitea-push.json")
    data.update(after="e" * 64, before="f" * 64)
    assert _parse("gitea", data).sha == "e" * 64


def test_other_ref_kind() -> None:
    """A ref outside refs/heads and refs/tags is reported as such, not parsed further."""
    data = payload("github-push.json")
    data["ref"] = "refs/notes/commits"
    assert parse_push("github", data, "d") == OtherRef("refs/notes/commits")


def test_pusher_is_sanitised() -> None:
    """Control characters in the pusher's name are dropped and its length bounded."""
    data = payload("gitea-push.json")
    data["sender"] = {"login": "eve\x1b[31m\n" + "x" * 500}
    assert _parse("gitea", data).pusher == "eve[31m" + "x" * 93


def _without(path: str) -> dict[str, Any]:
    data = copy.deepcopy(payload("github-push.json"))
    node = data
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    del node[last]
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_without("ref"), "ref: missing"),
        (_without("before"), "before"),
        (_without("after"), "after"),
        (_without("repository"), "repository: missing"),
        (_without("repository.full_name"), "full_name: missing"),
        ({**payload("github-push.json"), "after": "6113728f"}, "after"),
        ({**payload("github-push.json"), "after": "G" * 40}, "after"),
        ({**payload("github-push.json"), "after": "; rm -rf /"}, "after"),
        ({**payload("github-push.json"), "before": 42}, "before"),
        ({**payload("github-push.json"), "ref": "refs/heads/a..b"}, "ref:"),
        ({**payload("github-push.json"), "ref": "refs/heads/x\ny"}, "ref:"),
        ({**payload("github-push.json"), "ref": "refs/heads/-x"}, "ref:"),
        ({**payload("github-push.json"), "ref": ["refs/heads/main"]}, "ref: missing"),
        (
            {**payload("github-push.json"), "ref": "refs/tags/v1", "head_commit": None},
            "head_commit",
        ),
    ],
)
def test_malformed_payload(data: dict[str, Any], message: str) -> None:
    """Missing fields and invalid refs or SHAs are BadRequest with the field's name."""
    with pytest.raises(BadRequest, match=message):
        parse_push("github", data, "d")


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("main", True),
        ("release/1.4", True),
        ("feature/$(id)`x`;|&", True),
        ("déploiement/日本", True),
        ("refs/tags/x", True),
        ("", False),
        ("a b", False),
        ("a\tb", False),
        ("a\x00b", False),
        ("a\x7fb", False),
        ("a\u0085b", False),
        ("a~1", False),
        ("a^", False),
        ("a:b", False),
        ("a?", False),
        ("a*", False),
        ("a[b", False),
        ("a\\b", False),
        ("a..b", False),
        ("a@{1}", False),
        ("@", False),
        ("a//b", False),
        ("/a", False),
        ("a/", False),
        ("a.", False),
        (".a", False),
        ("a/.b", False),
        ("a.lock", False),
        ("a.lock/b", False),
        ("-a", False),
        ("x" * 255, True),
        ("x" * 256, False),
    ],
)
def test_ref_names(name: str, valid: bool) -> None:
    """Ref names follow git check-ref-format and refuse control characters."""
    assert (ref_name_problem(name) is None) is valid
