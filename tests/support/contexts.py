"""A deploy's context for one environment with no stack behind it: real Redis for the record
and the log, real subprocesses for commands, nothing to deploy (for stage-level tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis

from config import Settings
from jobs.execution.context import DeployContext, new_context
from jobs.execution.deploylog import DeployLog
from jobs.state.records import Deploy, DeployStore, new_deploy_id


def bare_context(
    connection: redis.Redis, root: Path, deploy: dict[str, str] | None = None, **environment: Any
) -> DeployContext:
    """The context of a deploy of app/dev; `environment` adds to or replaces its settings,
    `deploy` the record's fields (a branch push of main, commit a*40)."""
    settings = Settings.model_validate(
        {
            "state_dir": str(root / "state"),
            "projects": {
                "app": {
                    "repo": "example.com/acme/app",
                    "provider": "github",
                    "secret": "s3cret-value-for-tests",
                    "environments": {
                        "dev": {
                            "trigger": {"branch": "main"},
                            "path": str(root),
                            "compose": {"files": ["compose.yml"], "project": "app_dev"},
                            "health": {"url": "http://127.0.0.1:9/"},
                            **environment,
                        }
                    },
                }
            },
        }
    )
    record = Deploy(
        id=new_deploy_id(),
        project="app",
        environment="dev",
        trigger="test",
        **{"ref_kind": "branch", "ref_name": "main", "sha": "a" * 40, **(deploy or {})},
    )
    store = DeployStore(connection)
    store.save(record)
    return new_context(record, settings, store, DeployLog(store, record.id))
