"""The environment every deploy command runs with: the minimum, never the worker's whole one.

The worker's environment holds every project's webhook secret, the server token and the
notification tokens; a command that inherited it would hand them to git, compose, psql and
hooks, and Compose's interpolation prefers the process environment over the app's `.env`, so
one project's compose file could read another's secret, and a worker-level DATABASE_URL would
override the app's own. So a command gets only:

- what running programs needs: PATH, HOME, USER, LOGNAME, TMPDIR, TZ, the locale (LANG,
  LANGUAGE, LC_*), and proxies (http_proxy, https_proxy, no_proxy, in either case);
- how to reach the engine and the repository: DOCKER_HOST and its settings (DOCKER_TLS_VERIFY,
  DOCKER_CERT_PATH, DOCKER_CONTEXT, DOCKER_CONFIG, DOCKER_API_VERSION, DOCKER_BUILDKIT),
  SSH_AUTH_SOCK, GIT_SSH_COMMAND and GIT_SSH;
- the names the environment's configuration lists under `env:`.

Never a DEPLOYHOOK_* variable of the worker's, and never a variable whose value holds one of
deployhook's configured secrets, even when `env:` names it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

BASE = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TZ", "LANG", "LANGUAGE",
        "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
        "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT",
        "DOCKER_CONFIG", "DOCKER_API_VERSION", "DOCKER_BUILDKIT",
        "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "GIT_SSH",
    }
)  # fmt: skip
BASE_PREFIXES = ("LC_",)
OWN_PREFIX = "DEPLOYHOOK_"


def minimal_environ(
    source: Mapping[str, str], allowed: Iterable[str], secrets: Collection[str]
) -> dict[str, str]:
    """The variables of `source` a command may see: BASE, LC_*, and `allowed` (from `env:`)."""
    names = BASE | set(allowed)
    return {
        name: value
        for name, value in source.items()
        if (name in names or name.startswith(BASE_PREFIXES))
        and not name.startswith(OWN_PREFIX)
        and not any(secret and secret in value for secret in secrets)
    }


def hook_variables(
    *,
    deploy_id: str,
    project: str,
    environment: str,
    ref: str,
    sha: str,
    previous_sha: str | None,
    point: str,
    outcome: str | None,
) -> dict[str, str]:
    """The documented facts a hook gets (docs/gates.md): which deploy, of what, and how it went."""
    facts = {
        "DEPLOYHOOK_DEPLOY_ID": deploy_id,
        "DEPLOYHOOK_PROJECT": project,
        "DEPLOYHOOK_ENVIRONMENT": environment,
        "DEPLOYHOOK_REF": ref,
        "DEPLOYHOOK_SHA": sha,
        "DEPLOYHOOK_PREVIOUS_SHA": previous_sha or "",
        "DEPLOYHOOK_HOOK": point,
    }
    if outcome is not None:
        facts["DEPLOYHOOK_OUTCOME"] = outcome
    return facts


def env_flags(variables: Mapping[str, str]) -> list[str]:
    """`-e NAME=VALUE` for compose exec/run, in a stable order (values are ids, names, SHAs)."""
    return [part for name in sorted(variables) for part in ("-e", f"{name}={variables[name]}")]
