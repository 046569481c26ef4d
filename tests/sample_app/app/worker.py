"""A background worker for the proxied stack: it idles; `--check` is its container health check.

schema.json's `worker_broken: true` makes the check fail, standing in for a release that breaks
a service other than the one swapped without downtime.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

SCHEMA = json.loads((Path(__file__).resolve().parent / "schema.json").read_text())


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(1 if SCHEMA.get("worker_broken") else 0)
    main()
