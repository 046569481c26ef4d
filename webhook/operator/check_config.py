"""`deployhook check-config`: validate the configuration, print its summary and warnings.

Exit 1 when it does not load (the loader names every problem with its path) or when a
zero_downtime service cannot be swapped without downtime.
"""

from __future__ import annotations

import argparse
import sys

from config import Settings, load_settings
from config.loader import config_path
from config.plaintext import plain_text_secrets
from jobs.doctor.check import Status
from jobs.doctor.compose_checks import zero_downtime_problems
from jobs.doctor.summary import summarise
from jobs.operations.targets import OperationError
from webhook.operator.doctor import embedded_finding


def check_config(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    print(summarise(settings))
    for warning in plain_text_secrets(config_path(args.config)):
        print(f"warning: {warning}", file=sys.stderr)
    for warning in offline_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    problems, proxy_warnings = zero_downtime_problems(settings)
    for warning in proxy_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if problems:
        raise OperationError("cannot swap without downtime:\n  " + "\n  ".join(problems))
    return 0


def offline_warnings(settings: Settings) -> list[str]:
    """What is risky yet knowable without reaching anything (`deployhook doctor` asks live)."""
    warnings = []
    if not settings.redis.configured:
        redis = embedded_finding()
        if redis.status != Status.OK:
            warnings.append(f"redis: {redis.detail}; fix: {redis.fix}")
    return warnings
