"""`deployhook doctor [PROJECT/ENV]`: is this host ready to deploy? One line a check, each
with its fix; exit 1 when any check fails, so scripts and CI can gate on it."""

from __future__ import annotations

import argparse

from config import load_settings
from jobs.doctor import Status, examine
from jobs.operations.targets import parse_target
from webhook.operator.common import print_json


def doctor(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if args.target:
        targets = [parse_target(settings, args.target)]
    else:
        targets = [
            (project, name)
            for project, configured in sorted(settings.projects.items())
            for name in sorted(configured.environments)
        ]
    findings = examine(settings, targets)
    failed = [finding for finding in findings if finding.status == Status.FAIL]
    warned = [finding for finding in findings if finding.status == Status.WARN]
    if args.json:
        print_json({"ok": not failed, "checks": [finding.as_json() for finding in findings]})
    else:
        for finding in findings:
            print(finding.line())
        verdict = "ready to deploy" if not failed else f"{len(failed)} check(s) failed"
        print(f"{verdict}; {len(warned)} warning(s)")
    return 1 if failed else 0
