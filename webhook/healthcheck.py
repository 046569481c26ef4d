"""`python -m webhook.healthcheck`: exit 0 when the intake answers /healthz, else 1.

The container image's HEALTHCHECK runs this, because slim base images have no curl. It uses
only the standard library, so it works even when the app's own imports are broken.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

HEALTH_URL_ENV = "DEPLOYHOOK_HEALTH_URL"
DEFAULT_URL = "http://127.0.0.1:8080/healthz"


def check(url: str, timeout: float = 4.0) -> str | None:
    """None when `url` answers 2xx in time; otherwise what went wrong, in one line."""
    if not url.startswith(("http://", "https://")):
        return f"{HEALTH_URL_ENV} must be an http(s) URL, got {url!r}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - checked above
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, ValueError) as error:
        return f"{url}: no answer ({type(error).__name__}: {error})"
    return None if 200 <= status < 300 else f"{url}: expected a 2xx status, got {status}"


def main() -> int:
    problem = check(os.environ.get(HEALTH_URL_ENV) or DEFAULT_URL)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
