"""A real deploy's commands and hooks see the minimal environment and the deploy's facts, never
deployhook's secrets or another project's, and the worker's variables cannot override the app's
own `.env` through Compose's interpolation."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import redis
import yaml

from config.loader import parse_settings
from jobs.state.records import DeployStore
from tests.support.deploying import config_for, deploy
from tests.support.sample_app import SampleApp

pytestmark = pytest.mark.docker

OWN = "own-webhook-secret-0123456789abcdef"
OTHERS = "other-projects-secret-0123456789abcdef"
NOTIFY = "xoxb-notify-token-0123456789abcdef"
FACTS = (
    "import os; e = os.environ; "
    "print('FACTS', e['DEPLOYHOOK_SHA'], e['DEPLOYHOOK_OUTCOME'], e.get('OTHER_WEBHOOK_SECRET'))"
)
DUMP = "import json, os, sys; open(sys.argv[1], 'w').write(json.dumps(dict(os.environ)))"


def test_commands_and_hooks_get_a_minimal_environment(
    sample_app: SampleApp,
    redis_conn: redis.Redis,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host hook's environment holds PATH, HOME, DOCKER_HOST, the `env:` names and the deploy
    facts, and none of the worker's secrets (not even one `env:` names); a service hook gets the
    facts as -e flags; a worker-level BASE_IMAGE and DATABASE_URL do not reach Compose."""
    worker_env = {
        "SAMPLE_WEBHOOK_SECRET": OWN,
        "OTHER_WEBHOOK_SECRET": OTHERS,
        "SLACK_URL": f"https://hooks.slack.com/services/{NOTIFY}",
        "DEPLOYHOOK_TOKEN": "deployhook-server-token-0123456789",
        "BASE_IMAGE": "no-such-image:from-the-worker",  # the app's .env names the real one
        "DATABASE_URL": "postgresql://worker@nowhere/not-the-app",
        "APP_BUILD_FLAVOUR": "named-in-env",
    }
    for name, value in worker_env.items():
        monkeypatch.setenv(name, value)
    seen = tmp_path / "host-hook-env.json"
    environment = {
        **sample_app.environment_config(),
        "env": ["APP_BUILD_FLAVOUR", "OTHER_WEBHOOK_SECRET"],
        "hooks": {
            "before_backup": [{"command": [sys.executable, "-c", DUMP, str(seen)]}],
            "after_health": [
                {
                    "service": "api",
                    "command": ["python3", "-c", FACTS],
                }
            ],
        },
    }
    config = config_for(environment, tmp_path / "state", redis_url)
    config["projects"]["sample"]["secret"] = "${SAMPLE_WEBHOOK_SECRET}"
    config["projects"]["other"] = {
        "repo": "example.com/acme/other",
        "provider": "github",
        "secret": "${OTHER_WEBHOOK_SECRET}",
        "environments": {
            "dev": {
                **sample_app.environment_config(),
                "path": str(tmp_path),
                "compose": {"files": ["compose.yml"], "project": "other_dev"},
            }
        },
    }
    config["notify"] = {"slack": {"webhook_url": "${SLACK_URL}"}}
    settings = parse_settings(yaml.safe_dump(config), "test.yml", os.environ)
    before = sample_app.checked_out()
    sha = sample_app.good_change()
    record = deploy(settings, redis_conn, sha)
    assert record.state == "succeeded", record.error
    environ = json.loads(seen.read_text())
    text = json.dumps(environ)
    for secret in (OWN, OTHERS, NOTIFY, "deployhook-server-token"):
        assert secret not in text
    for name in ("BASE_IMAGE", "DATABASE_URL", "DEPLOYHOOK_TOKEN", "OTHER_WEBHOOK_SECRET"):
        assert name not in environ
    assert environ["APP_BUILD_FLAVOUR"] == "named-in-env"
    assert {"PATH", "HOME", "DOCKER_HOST"} <= set(environ)
    assert {key: environ[key] for key in environ if key.startswith("DEPLOYHOOK_")} == {
        "DEPLOYHOOK_DEPLOY_ID": record.id,
        "DEPLOYHOOK_PROJECT": "sample",
        "DEPLOYHOOK_ENVIRONMENT": "dev",
        "DEPLOYHOOK_REF": "main",
        "DEPLOYHOOK_SHA": sha,
        "DEPLOYHOOK_PREVIOUS_SHA": before,
        "DEPLOYHOOK_HOOK": "before_backup",
    }
    log = "\n".join(DeployStore(redis_conn).log(record.id))
    assert f"FACTS {sha} healthy None" in log
    assert sample_app.running_version() == "2"
