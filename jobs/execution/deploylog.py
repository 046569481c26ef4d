"""The log of one deploy: timestamped lines into its record, secrets masked, also to stderr."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from jobs.state.records import DeployStore

MASK = "<secret>"
logger = logging.getLogger("deployhook.deploy")


class DeployLog:
    def __init__(self, store: DeployStore, deploy_id: str, secrets: Iterable[str] = ()) -> None:
        self.store = store
        self.deploy_id = deploy_id
        # Longest first so that a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def hide(self, values: Iterable[str]) -> None:
        """Mask these too from now on: secrets a deploy learns (decrypted SOPS values)."""
        known = {*self._secrets, *(value for value in values if len(value) >= 4)}
        self._secrets = sorted(known, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def lines(self, *lines: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.gmtime())
        masked = [f"{stamp} {self.mask(line)}" for line in lines]
        self.store.append_log(self.deploy_id, *masked)

    def info(self, message: str, **fields: Any) -> None:
        self.lines(message)
        # One flat line (webhook/logs.py formats it): deploy_id is a field, not JSON in JSON.
        masked = {key: self.mask(v) if isinstance(v, str) else v for key, v in fields.items()}
        logger.info(self.mask(message), extra={"fields": {"deploy_id": self.deploy_id, **masked}})
