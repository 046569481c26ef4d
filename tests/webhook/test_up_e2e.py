"""The product as a user runs it: `deployhook up` receives a signed push and deploys it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.deliveries import encode, github_headers
from tests.support.deploying import SECRET, config_for
from tests.support.users import TOKENS, shared_users_path
from tests.support.web import DEPLOYHOOK, free_port, running

pytestmark = pytest.mark.docker


def _push(sha: str, before: str) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": sha,
        "deleted": False,
        "repository": {"full_name": "acme/sample", "html_url": "https://example.com/acme/sample"},
        "head_commit": {"id": sha},
        "pusher": {"name": "tester"},
        "sender": {"login": "tester"},
    }


def test_signed_push_through_deployhook_up_deploys_the_sample_app(
    sample_app: Any, tmp_path: Path
) -> None:
    """`deployhook up` with an embedded Redis queues a signed push and its worker deploys it."""
    port = free_port()
    config = config_for(sample_app.environment_config(), tmp_path / "state", redis_url="")
    del config["redis"]  # no Redis configured: `up` starts the embedded one
    config["server"] = {"bind": f"127.0.0.1:{port}", "workers": 1}
    # Reading a deploy's status needs an identity (#20): a viewer's API token.
    config["auth"] = {"users_path": str(shared_users_path())}
    viewer = {"Authorization": f"Bearer {TOKENS['viewer']}"}
    config_file = tmp_path / "deployhook.yml"
    config_file.write_text(yaml.safe_dump(config))
    base = f"http://127.0.0.1:{port}"
    before, sha = sample_app.checked_out(), sample_app.good_change()
    body = encode(_push(sha, before))
    argv = [*DEPLOYHOOK, "up", "--config", str(config_file)]
    assert "DEPLOYHOOK_REDIS_URL" not in os.environ
    with running(argv, {}, base, log=tmp_path / "up.log"):
        forged = requests.post(
            f"{base}/hooks/sample",
            data=body,
            timeout=10,
            headers=github_headers(body, secret="not-the-secret"),
        )
        assert forged.status_code == 401
        answer = requests.post(
            f"{base}/hooks/sample",
            data=body,
            timeout=10,
            headers=github_headers(body, secret=SECRET),
        )
        assert answer.status_code == 202, answer.text
        status_url = answer.json()["status_url"]
        deadline = time.monotonic() + 240
        record: dict[str, Any] = {}
        while time.monotonic() < deadline:
            record = requests.get(status_url, headers=viewer, timeout=10).json()
            if record["state"] not in {"queued", "running"}:
                break
            time.sleep(1)
    assert record["state"] == "succeeded", (
        record.get("error"),
        (tmp_path / "up.log").read_text()[-2000:],
    )
    assert record["sha"] == sha
    assert sample_app.checked_out() == sha
    assert sample_app.running_version() == "2"
