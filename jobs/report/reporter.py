"""What the dispatcher needs from a reporter, and the one-request reporter most of them are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import requests

from config.model import Delivery
from jobs.report.delivery import Accept, Outbound, answered_2xx, deliver
from jobs.report.text import user_agent
from jobs.state.records import Deploy


class Reporter(Protocol):
    # Names the reporter in logs and recorded problems, e.g. "GitHub commit status".
    name: str
    # The project provider this reporter serves ("github", ...), or None for every project.
    provider: str | None

    def report(self, deploy: Deploy) -> None:
        """Tell the provider about this snapshot; raise ReportError when it cannot be done."""


class RequestReporter:
    """Sends at most one request per snapshot, built by a pure function of the snapshot."""

    def __init__(
        self,
        name: str,
        provider: str | None,
        build: Callable[[Deploy], Outbound | None],
        session: requests.Session,
        policy: Delivery,
        accept: Accept = answered_2xx,
    ) -> None:
        self.name = name
        self.provider = provider
        self.build = build
        self.session = session
        self.policy = policy
        self.accept = accept

    def report(self, deploy: Deploy) -> None:
        request = self.build(deploy)
        if request is not None:
            deliver(self.session, request, self.policy, self.accept)


def new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = user_agent()
    return session
