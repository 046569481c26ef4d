"""The container health check: exit 0 when the API answers its health URL with 200."""

from __future__ import annotations

import os
import sys
import urllib.request

URL = f"http://127.0.0.1:{os.environ['API_PORT']}/api/v1/healthz"

try:
    with urllib.request.urlopen(URL, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
