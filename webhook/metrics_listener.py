"""`python -m webhook.metrics_listener`: /metrics alone on auth.metrics.bind, without identity.

`deployhook serve` starts it beside gunicorn's workers (webhook/gunicorn.conf.py) when the
configuration asks for it, and stops it with them.
"""

from __future__ import annotations

import contextlib
import sys

from config import ConfigError, load_settings
from jobs.state.connection import connect
from webhook.status.metrics import metrics_listener


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    server = metrics_listener(settings, connect(settings, timeout=5))
    if server is None:
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
