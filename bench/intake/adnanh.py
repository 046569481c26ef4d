"""The peer: adnanh/webhook (Debian's `webhook` package) with one HMAC-checked hook.

Its hook `crm` (so the same URL, /hooks/crm, and the same signed deliveries work) has a
`payload-hmac-sha256` trigger rule over X-Hub-Signature-256 and runs `true` for every delivery
that matches: running a command per request is what adnanh/webhook is for. By default it
answers at once and runs the command beside the answer; with `wait`, the hook sets
`include-command-output-in-response`, so each answer waits for its command.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import requests


def webhook_binary() -> str:
    """The `webhook` executable, installed from Debian when missing (the benchmark's own need)."""
    found = shutil.which("webhook")
    if found is None:
        print("installing Debian's webhook package (adnanh/webhook)")
        install = ["apt-get", "install", "-y", "-q", "webhook"]
        subprocess.run(install, check=True, env={"DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("webhook")
    if found is None:
        raise SystemExit("expected a `webhook` executable after apt-get install webhook, got none")
    return found


def write_hooks(path: Path, secret: str, wait: bool = False) -> Path:
    rule = {
        "match": {
            "type": "payload-hmac-sha256",
            "secret": secret,
            "parameter": {"source": "header", "name": "X-Hub-Signature-256"},
        }
    }
    true = shutil.which("true") or "/bin/true"
    hook = {
        "id": "crm",
        "execute-command": true,
        "command-working-directory": str(path.parent),
        "include-command-output-in-response": wait,
    }
    path.write_text(json.dumps([{**hook, "trigger-rule": rule}], indent=2))
    return path


def command(hooks: Path, port: int) -> list[str]:
    return [webhook_binary(), "-hooks", str(hooks), "-ip", "127.0.0.1", "-port", str(port)]


def check_refuses_bad_signatures(port: int, body: str, signature: str) -> None:
    """Before any load: a correctly signed delivery gets 200, a wrongly signed one does not."""
    url = f"http://127.0.0.1:{port}/hooks/crm"
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    bad_signature = "sha256=" + "0" * 64
    good, bad = (
        requests.post(url, data=body, headers={**headers, "X-Hub-Signature-256": sent}, timeout=10)
        for sent in (signature, bad_signature)
    )
    if good.status_code != 200 or bad.status_code < 400:
        raise SystemExit(
            "expected adnanh/webhook to answer 200 to a signed delivery and >= 400 to a wrongly "
            f"signed one, got {good.status_code} and {bad.status_code}"
        )
