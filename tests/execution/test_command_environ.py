"""The minimal command environment and the hooks' variables, as pure functions (exact values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError
from config.gates import Hook
from config.loader import parse_settings
from jobs.commands.compose import Compose
from jobs.commands.environ import env_flags, hook_variables, minimal_environ
from jobs.runbook.deploy_hooks import hook_argv

WORKER = {
    "PATH": "/usr/bin", "HOME": "/var/lib/deployhook", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
    "DOCKER_HOST": "ssh://deploy@app1", "DOCKER_CERT_PATH": "/etc/docker/certs",
    "GIT_SSH_COMMAND": "ssh -i /etc/deployhook/deploy_key", "SSH_AUTH_SOCK": "/run/agent",
    "CRM_WEBHOOK_SECRET": "crm-secret-0123456789", "SHOP_WEBHOOK_SECRET": "shop-secret-012345",
    "GITHUB_TOKEN": "ghp_0123456789abcdef", "DEPLOYHOOK_TOKEN": "server-token-0123456",
    "DEPLOYHOOK_REDIS_URL": "redis://deployhook:pw@127.0.0.1:6380/0",
    "DATABASE_URL": "postgresql://worker@db/worker", "BASE_IMAGE": "python:3.11",
    "NPM_REGISTRY": "https://npm.example.com", "LEAKY": "prefix-ghp_0123456789abcdef",
}  # fmt: skip
SECRETS = ["crm-secret-0123456789", "shop-secret-012345", "ghp_0123456789abcdef"]


@pytest.mark.parametrize(
    ("allowed", "expected_extra"),
    [
        ([], {}),
        (["NPM_REGISTRY"], {"NPM_REGISTRY": "https://npm.example.com"}),
        # Named, yet never passed: a value that is (or holds) a deployhook secret.
        (["GITHUB_TOKEN", "LEAKY", "SHOP_WEBHOOK_SECRET"], {}),
        (["DEPLOYHOOK_TOKEN"], {}),
    ],
)
def test_minimal_environ(allowed: list[str], expected_extra: dict[str, str]) -> None:
    """Only PATH, HOME, the locale, Docker's and ssh/git's settings, plus `env:` names whose
    values hold no deployhook secret; never DEPLOYHOOK_*, DATABASE_URL or BASE_IMAGE."""
    base = {
        name: WORKER[name]
        for name in ("PATH", "HOME", "LANG", "LC_ALL", "DOCKER_HOST", "DOCKER_CERT_PATH",
                     "GIT_SSH_COMMAND", "SSH_AUTH_SOCK")
    }  # fmt: skip
    assert minimal_environ(WORKER, allowed, SECRETS) == {**base, **expected_extra}


def test_hook_variables_and_their_flags() -> None:
    """Hooks get the deploy's facts; after-hooks also the outcome; service hooks as -e flags."""
    facts = hook_variables(
        deploy_id="d-20261206-140000-abcdef", project="crm", environment="prod", ref="v1.2",
        sha="a" * 40, previous_sha=None, point="after_revert", outcome="reverted",
    )  # fmt: skip
    assert facts == {
        "DEPLOYHOOK_DEPLOY_ID": "d-20261206-140000-abcdef",
        "DEPLOYHOOK_PROJECT": "crm",
        "DEPLOYHOOK_ENVIRONMENT": "prod",
        "DEPLOYHOOK_REF": "v1.2",
        "DEPLOYHOOK_SHA": "a" * 40,
        "DEPLOYHOOK_PREVIOUS_SHA": "",
        "DEPLOYHOOK_HOOK": "after_revert",
        "DEPLOYHOOK_OUTCOME": "reverted",
    }
    compose = Compose(("docker", "compose"), "crm", Path("/srv/crm"), ("compose.yml",))
    base = ["docker", "compose", "--project-name", "crm", "--project-directory", "/srv/crm"]
    base += ["--file", "/srv/crm/compose.yml"]
    two = {"DEPLOYHOOK_SHA": "b" * 40, "DEPLOYHOOK_HOOK": "after_health"}
    flags = ["-e", "DEPLOYHOOK_HOOK=after_health", "-e", f"DEPLOYHOOK_SHA={'b' * 40}"]
    assert env_flags(two) == flags
    exec_hook = Hook.model_validate({"service": "api", "command": ["warm"]})
    run_hook = Hook.model_validate({"service": "api", "mode": "run", "command": ["seed"]})
    host_hook = Hook.model_validate({"command": ["./notify"]})
    assert hook_argv(compose, exec_hook, two) == [*base, "exec", "-T", *flags, "api", "warm"]
    assert hook_argv(compose, run_hook, two) == [
        *base, "run", "--rm", "--no-deps", "-T", *flags, "api", "seed",
    ]  # fmt: skip
    assert hook_argv(compose, host_hook, two) == ["./notify"]


def test_env_names_are_checked(example_config_path: Path) -> None:
    """`env:` takes variable names, never deployhook's own DEPLOYHOOK_* ones."""
    text = example_config_path.read_text().replace(
        "    environments:\n      dev:\n",
        "    environments:\n      dev:\n        env: [NPM_REGISTRY, DEPLOYHOOK_TOKEN, 'a b']\n",
        1,
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "deployhook.yml", {"CRM_WEBHOOK_SECRET": "x" * 32})
    shown = str(caught.value)
    assert "env.1" in shown and "DEPLOYHOOK_* variables are never passed" in shown
    assert "env.2" in shown
    assert "env.0" not in shown
