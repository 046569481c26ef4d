"""Docker's healthcheck: exit 0 when the app says it is ready."""

from __future__ import annotations

import sys
import urllib.request

try:
    with urllib.request.urlopen("http://127.0.0.1:8000/ready", timeout=2) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except OSError:
    sys.exit(1)
