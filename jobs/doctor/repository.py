"""The checkout: there, a git repository, its remote the configured repository, fetchable."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from config import Environment, Project
from jobs.doctor import commands
from jobs.doctor.check import Finding, fail, ok, skip, warn
from jobs.doctor.probe import Prober
from jobs.triggers.remote import trigger_ls_remote

LS_REMOTE_TIMEOUT = 60.0
# Credentials must come from the environment (GIT_SSH_COMMAND, a credential helper), never
# from a prompt nobody will answer: a deploy would hang until its fetch timeout.
NO_PROMPTS = {"GIT_TERMINAL_PROMPT": "0"}
BATCH_SSH = "ssh -o BatchMode=yes"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.+)$")


def repository_of(url: str) -> str:
    """`host/owner/name` (or a local path) that a remote URL names, lower case, no `.git`."""
    text = url.strip()
    if _SCHEME.match(text):
        parts = urlsplit(text)
        named = f"{parts.hostname or ''}/{parts.path.strip('/')}".strip("/")
    elif (scp := _SCP_LIKE.match(text)) and not text.startswith(("/", ".")):
        named = f"{scp['host']}/{scp['path'].strip('/')}"
    else:
        named = text.strip("/")
    return named.lower().removesuffix(".git").rstrip("/")


def names_repository(url: str, repo: str) -> bool:
    """The remote is the configured repository: same host and path, or a local mirror whose
    path ends with host/owner/name (e.g. /srv/mirrors/github.com/acme/crm.git)."""
    named, wanted = repository_of(url), repo.lower().removesuffix(".git")
    return named == wanted or named.endswith("/" + wanted)


def check_repository(
    target: str, project: Project, environment: Environment, prober: Prober
) -> list[Finding]:
    path, remote = environment.path, environment.remote
    clone = f"git clone https://{project.repo}.git {path} (or git@{_scp(project.repo)}.git)"
    if not path.is_dir():
        return [
            fail(target, "checkout", f"{path} does not exist", clone),
            skip(target, "remote", "no checkout"),
            skip(target, "fetch", "no checkout"),
        ]
    if not prober.run(commands.git_dir(path), timeout=30).ok:
        return [
            fail(target, "checkout", f"{path} is not a git repository", f"move it aside; {clone}"),
            skip(target, "remote", "no git repository"),
            skip(target, "fetch", "no git repository"),
        ]
    found = [ok(target, "checkout", f"{path} is a git checkout")]
    answer = prober.run(commands.remote_url(path, remote), timeout=30)
    if not answer.ok:
        fix = f"git -C {path} remote add {remote} https://{project.repo}.git"
        return [
            *found,
            fail(target, "remote", f"the checkout has no remote {remote!r}", fix),
            skip(target, "fetch", f"no remote {remote!r}"),
        ]
    real = answer.output.splitlines()[-1].strip() if answer.output else ""
    # What doctor prints never carries a token or password from the remote URL.
    prober = prober.hiding(credentials_of(real))
    url = without_credentials(real)
    if not names_repository(url, project.repo):
        fix = f"git -C {path} remote set-url {remote} https://{project.repo}.git"
        detail = f"remote {remote} is {url}, expected the repository {project.repo}"
        return [*found, fail(target, "remote", detail, fix), skip(target, "fetch", "wrong remote")]
    found.append(ok(target, "remote", f"{remote} is {url}"))
    return [*found, _fetch(target, environment, prober, url)]


def _fetch(target: str, environment: Environment, prober: Prober, url: str) -> Finding:
    trigger = environment.trigger
    answer = prober.run(
        trigger_ls_remote(environment),
        timeout=min(LS_REMOTE_TIMEOUT, environment.timeouts.fetch),
        extra_env=_no_prompts(prober),
    )
    if not answer.ok:
        return fail(
            target, "fetch", f"cannot read {url}: {answer.output}",
            "give the worker's user read access: a deploy key through GIT_SSH_COMMAND or an "
            "HTTPS token through a credential helper (docs/production.md)",
        )  # fmt: skip
    if trigger.branch is not None and not answer.output.strip():
        return warn(
            target, "fetch", f"{url} answers but has no branch {trigger.branch}",
            f"push the branch, or change trigger.branch of {target}",
        )  # fmt: skip
    return ok(target, "fetch", f"{url} answers with the worker's credentials")


def credentials_of(url: str) -> str:
    """The user-info of a URL that may be a secret: any for http(s), a password for others."""
    parts = urlsplit(url)
    if "@" not in parts.netloc or not parts.scheme:
        return ""  # scp-like git@host:path names a user, not a secret
    userinfo = parts.netloc.rpartition("@")[0]
    if parts.scheme in ("http", "https") or ":" in userinfo:
        return userinfo
    return ""


def without_credentials(url: str) -> str:
    """`url` with any token or password in it shown as ***."""
    secret = credentials_of(url)
    return url.replace(f"{secret}@", "***@", 1) if secret else url


def _scp(repo: str) -> str:
    host, _, rest = repo.partition("/")
    return f"{host}:{rest}"


def _no_prompts(prober: Prober) -> dict[str, str]:
    """No password prompt (HTTPS) and no passphrase or host-key question (ssh) on the tty."""
    if "GIT_SSH_COMMAND" in prober.runner.environ:
        return NO_PROMPTS
    return {**NO_PROMPTS, "GIT_SSH_COMMAND": BATCH_SSH}
