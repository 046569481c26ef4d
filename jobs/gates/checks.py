"""Wait for green checks: read the commit's CI results from its git host until they settle.

GitHub: the commit's statuses plus its check runs. GitLab: the commit's job statuses (the
jobs of its pipelines). Gitea/Forgejo: the commit's combined status. deployhook's own statuses
(`deployhook/<environment>`) are left out: they are pending while this very deploy waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import requests

from config import Settings
from jobs.report.gitea import api_base
from jobs.report.github import github_headers
from jobs.report.gitlab import project_ref
from jobs.report.text import context_name, user_agent

Light = Literal["green", "red", "pending"]
CHECKS_WAIT = "CI checks"  # how a deploy's waiting_for starts while it waits here
REQUEST_TIMEOUT = 10.0
_GREEN = {"success", "neutral", "skipped", "warning", "manual"}
_RED = {
    "failure", "error", "failed", "canceled", "cancelled", "timed_out", "action_required", "stale",
}  # fmt: skip
Results = list[tuple[str, str]]  # (check name, the provider's state for it)


@dataclass(frozen=True)
class Verdict:
    light: Light
    detail: str  # what was seen, e.g. "2 green, 1 pending (build)"


def verdict(results: Results) -> Verdict:
    """One light from (name, provider state) pairs: any red is red, all green is green."""
    if not results:
        return Verdict("pending", "no CI result for this commit yet")
    red = sorted(name for name, state in results if state in _RED)
    waiting = sorted(name for name, state in results if state not in _RED | _GREEN)
    if red:
        return Verdict("red", f"failed: {', '.join(red)}")
    if waiting:
        return Verdict("pending", f"{len(results) - len(waiting)} of {len(results)} done; "
                       f"waiting for {', '.join(waiting)}")  # fmt: skip
    return Verdict("green", f"{len(results)} green")


def github_results(status: dict[str, Any], runs: dict[str, Any], ours: set[str]) -> Results:
    results = [
        (str(item.get("context")), str(item.get("state")))
        for item in status.get("statuses") or []
        if item.get("context") not in ours
    ]
    for run in runs.get("check_runs") or []:
        done = run.get("status") == "completed"
        results.append((str(run.get("name")), str(run.get("conclusion")) if done else "running"))
    return results


def gitlab_results(statuses: list[dict[str, Any]], ours: set[str]) -> Results:
    results: Results = []
    for job in statuses:
        if job.get("name") in ours:
            continue
        state = str(job.get("status"))
        if state == "failed" and job.get("allow_failure"):
            state = "success"  # GitLab itself lets the pipeline pass with it
        results.append((str(job.get("name")), state))
    return results


def gitea_results(status: dict[str, Any], ours: set[str]) -> Results:
    return [
        (str(item.get("context")), str(item.get("status") or item.get("state")))
        for item in status.get("statuses") or []
        if item.get("context") not in ours
    ]


class ChecksUnreadable(Exception):
    """The git host refused for good (bad token, unknown repo): waiting cannot help."""


def read_checks(
    settings: Settings, project_name: str, sha: str, session: requests.Session
) -> Verdict:
    """The CI verdict on `sha` now; network trouble, 429 and 5xx read as pending."""
    project = settings.projects[project_name]
    template = _template(settings, project.provider)
    ours = {context_name(template, project_name, name) for name in project.environments}
    try:
        results = _results(settings, project_name, sha, session, ours)
    except (requests.RequestException, ValueError) as error:
        return Verdict("pending", f"could not read CI results ({type(error).__name__}); retrying")
    except _Retry as retry:
        return Verdict("pending", f"could not read CI results ({retry}); retrying")
    return verdict(results)


def _results(
    settings: Settings, project_name: str, sha: str, session: requests.Session, ours: set[str]
) -> Results:
    project = settings.projects[project_name]
    notify = settings.notify
    if project.provider == "github" and notify.github is not None:
        base = f"{notify.github.api_url.rstrip('/')}/repos/{project.repo_path}/commits/{sha}"
        headers = github_headers(notify.github.token)
        status = _get(session, f"{base}/status?per_page=100", headers)
        runs = _get(session, f"{base}/check-runs?per_page=100", headers)
        return github_results(status, runs, ours)
    if project.provider == "gitlab" and notify.gitlab is not None:
        url = (
            f"{notify.gitlab.api_url.rstrip('/')}/projects/{project_ref(project)}"
            f"/repository/commits/{sha}/statuses?per_page=100"
        )
        headers = {"PRIVATE-TOKEN": notify.gitlab.token.reveal()}
        return gitlab_results(_get(session, url, headers), ours)
    if project.provider == "gitea" and notify.gitea is not None:
        repo = project.repo_path
        url = f"{api_base(notify.gitea)}/api/v1/repos/{repo}/commits/{sha}/status"
        headers = {"Authorization": f"token {notify.gitea.token.reveal()}"}
        return gitea_results(_get(session, url, headers), ours)
    raise ChecksUnreadable(f"no notify.{project.provider}.token to read the commit's CI with")


class _Retry(Exception):
    pass


MAX_REDIRECTS = 3


def _get(session: requests.Session, url: str, headers: dict[str, str]) -> Any:
    """GET with the token; a redirect is followed only within the same origin.

    requests drops Authorization on a redirect to another host but not PRIVATE-TOKEN, so
    redirects are never left to it: one to another scheme, host or port is refused (the token
    stays here) and its message says where the git host pointed.
    """
    for _ in range(MAX_REDIRECTS + 1):
        response = session.get(
            url,
            headers={"User-Agent": user_agent(), **headers},
            timeout=REQUEST_TIMEOUT,
            allow_redirects=False,
        )
        if not response.is_redirect:
            break
        target = urljoin(url, response.headers.get("Location", ""))
        if _origin(target) != _origin(url):
            raise ChecksUnreadable(
                f"the git host redirected the CI-results request to {_origin(target)}; the "
                "token is not sent elsewhere: set api_url in notify to where the API lives"
            )
        url = target
    else:
        raise ChecksUnreadable(f"the git host redirected more than {MAX_REDIRECTS} times")
    if response.status_code == 429 or response.status_code >= 500:
        raise _Retry(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        # No URL, no body in the message: they may carry a token. Rate limits answer 403 too.
        if response.headers.get("x-ratelimit-remaining") == "0":
            raise _Retry("rate limited")
        raise ChecksUnreadable(
            f"the git host answered HTTP {response.status_code} when asked for the commit's "
            "CI results: check the token in notify (it needs read access to statuses/checks)"
        )
    return response.json()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _template(settings: Settings, provider: str) -> str:
    notify = getattr(settings.notify, provider)
    return str(notify.context) if notify is not None else "deployhook/{environment}"


@dataclass(frozen=True)
class Waited:
    light: Light | Literal["superseded", "timeout"]
    detail: str


def wait_for_green(
    read: Callable[[], Verdict],
    *,
    timeout: float,
    interval: float,
    max_interval: float,
    superseded: Callable[[], bool],
    on_change: Callable[[Verdict], None],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Waited:
    """Poll `read` with a doubling pause until green, red, superseded, or `timeout` seconds."""
    deadline = clock() + timeout
    pause = interval
    last: Verdict | None = None
    while True:
        seen = read()
        if seen != last:
            on_change(seen)
            last = seen
        if seen.light != "pending":
            return Waited(seen.light, seen.detail)
        if superseded():
            return Waited("superseded", seen.detail)
        left = deadline - clock()
        if left <= 0:
            return Waited(
                "timeout", f"still pending after {timeout:.0f}s; last seen: {seen.detail}"
            )
        sleep(min(pause, left))
        pause = min(pause * 2, max_interval)
