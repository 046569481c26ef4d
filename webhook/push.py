"""Turn a provider's push payload into one frozen, validated `Push`.

Only the fields a deploy needs are read, each validated before use: the ref must be a valid
branch or tag name, the commit ids must be hex SHAs. Anything missing or malformed is a
`BadRequest` with a short message naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from jobs.commands.git_names import is_sha, is_zero_sha, ref_name_problem
from webhook.errors import BadRequest

Provider = Literal["github", "gitlab", "gitea"]
_PREFIXES: dict[str, Literal["branch", "tag"]] = {"refs/heads/": "branch", "refs/tags/": "tag"}
_MAX_NAME = 100


@dataclass(frozen=True)
class Push:
    provider: Provider
    repository: str  # owner/name (GitLab: group/sub/name) as the payload spells it
    repository_host: str | None  # lower-case host of the payload's repository URL, if any
    ref_kind: Literal["branch", "tag"]
    ref_name: str
    sha: str  # the commit to deploy ("" when the ref was deleted)
    before: str
    pusher: str
    delivery_id: str

    @property
    def deleted(self) -> bool:
        return not self.sha

    @property
    def trigger(self) -> str:
        return f"{self.provider} {'tag push' if self.ref_kind == 'tag' else 'push'}"


@dataclass(frozen=True)
class OtherRef:
    """A push to a ref that is neither a branch nor a tag (notes, pull heads, ...)."""

    ref: str


def parse_push(provider: Provider, payload: dict[str, Any], delivery_id: str) -> Push | OtherRef:
    ref = _text(payload, "ref")
    kind_name = _split_ref(ref)
    if kind_name is None:
        return OtherRef(ref)
    kind, name = kind_name
    if provider == "gitlab":
        project = _mapping(payload, "project")
        repository, url = _text(project, "path_with_namespace"), project.get("web_url")
        pusher = payload.get("user_username") or payload.get("user_name")
        sha = _gitlab_sha(payload)
    else:
        repo = _mapping(payload, "repository")
        repository, url = _text(repo, "full_name"), repo.get("html_url")
        pusher = _login(payload.get("sender")) or _login(payload.get("pusher"))
        sha = _github_sha(payload, kind)
    before = payload.get("before")
    if not is_sha(before):
        raise BadRequest("before: expected a 40 or 64 hex digit commit id")
    return Push(
        provider=provider,
        repository=repository,
        repository_host=_host(url),
        ref_kind=kind,
        ref_name=name,
        sha=sha,
        before=str(before),
        pusher=_clean(pusher),
        delivery_id=delivery_id,
    )


def _split_ref(ref: str) -> tuple[Literal["branch", "tag"], str] | None:
    for prefix, kind in _PREFIXES.items():
        if ref.startswith(prefix):
            name = ref.removeprefix(prefix)
            problem = ref_name_problem(name)
            if problem:
                raise BadRequest(f"ref: {problem}")
            return kind, name
    return None


def _github_sha(payload: dict[str, Any], kind: str) -> str:
    """GitHub and Gitea: `after`, except that an annotated tag's `after` is the tag object."""
    after = payload.get("after")
    if payload.get("deleted") is True or is_zero_sha(after):
        return ""
    head = payload.get("head_commit")
    if kind == "tag":
        head_id = head.get("id") if isinstance(head, dict) else None
        if not is_sha(head_id):
            raise BadRequest("head_commit.id: expected the tagged commit's id")
        return str(head_id)
    if not is_sha(after):
        raise BadRequest("after: expected a 40 or 64 hex digit commit id")
    return str(after)


def _gitlab_sha(payload: dict[str, Any]) -> str:
    """GitLab deploys `checkout_sha`, which is null when the ref was deleted."""
    checkout = payload.get("checkout_sha")
    if checkout is None or is_zero_sha(payload.get("after")):
        return ""
    if not is_sha(checkout):
        raise BadRequest("checkout_sha: expected a 40 or 64 hex digit commit id")
    return str(checkout)


def _text(mapping: dict[str, Any], key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key}: missing or not a string")
    return value


def _mapping(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise BadRequest(f"{key}: missing or not an object")
    return value


def _login(person: object) -> str | None:
    if not isinstance(person, dict):
        return None
    for key in ("login", "username", "name"):
        if isinstance(person.get(key), str) and person[key]:
            return str(person[key])
    return None


def _host(url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    try:
        return (urlsplit(url).hostname or "").lower() or None
    except ValueError:
        raise BadRequest("repository URL is malformed") from None


def _clean(name: object) -> str:
    """Who pushed, for records and reports: printable characters only, bounded length."""
    if not isinstance(name, str):
        return ""
    return "".join(char for char in name if char.isprintable())[:_MAX_NAME]
