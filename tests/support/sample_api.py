"""Talking to the sample app's API over HTTP on 127.0.0.1, as a user's health check would."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any

from tests.support.commands import BedError

HEALTH_PATH = "/api/v1/healthz"


class ApiClient:
    """GET requests against the API listening on 127.0.0.1:`api_port`."""

    api_port: int

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}{HEALTH_PATH}"

    def get(self, path: str, timeout: float = 5) -> tuple[int, str]:
        """GET the api; (status, body), or (0, reason) when nothing answers."""
        url = f"http://127.0.0.1:{self.api_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            try:
                return error.code, error.read().decode()
            except (OSError, http.client.HTTPException):  # cut off mid-body: a container stopped
                return error.code, ""
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            return 0, str(error)

    def wait_healthy(self, timeout: float = 60) -> dict[str, Any]:
        """Poll the health URL until 200; return its JSON, or raise with the last answer."""
        deadline = time.monotonic() + timeout
        status, body = self.get(HEALTH_PATH)
        while status != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            status, body = self.get(HEALTH_PATH)
        if status != 200:
            raise BedError(
                f"{self.health_url}: expected 200 within {timeout} s, got {status} {body}"
            )
        answer: dict[str, Any] = json.loads(body)
        return answer

    def running_version(self) -> str | None:
        """What /api/v1/version answers, or None when the api does not answer 200."""
        status, body = self.get("/api/v1/version")
        return body.strip() if status == 200 else None

    def first_version(self, timeout: float = 30) -> str | None:
        """The first version the api answers within `timeout` (a container just started may
        still be booting), or None when it never answers 200."""
        deadline = time.monotonic() + timeout
        version = self.running_version()
        while version is None and time.monotonic() < deadline:
            time.sleep(0.2)
            version = self.running_version()
        return version
