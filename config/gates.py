"""Release gates and hooks of an environment: promote_from, wait_for_checks, windows, hooks.

Each is a small option of an environment; docs/gates.md says what each does at deploy time.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WaitForChecks(_Strict):
    """Wait until the commit's CI is green on the project's git host before deploying."""

    # Seconds; then `blocked`. At most 3 h: the wait runs inside the deploy's RQ job, whose
    # 6 h limit (jobs/state/submit.py) must still leave room for the deploy and any revert.
    timeout: float = Field(default=1800, gt=0, le=3 * 3600)
    interval: float = Field(default=10, gt=0, le=600)  # first pause between polls
    max_interval: float = Field(default=60, gt=0, le=3600)  # the backoff grows up to this


class Window(_Strict):
    """When deploys may start: on these days, between these hours, in this time zone."""

    days: list[Day] = Field(default=list(DAYS), min_length=1)
    hours: str = (
        "00:00-24:00"  # start-end, local time; end may be 24:00; end < start spans midnight
    )
    timezone: str = "UTC"

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        match = _HOURS.match(value)
        if not match or value[6:] > "24:00":
            raise ValueError(f"expected HH:MM-HH:MM (e.g. 09:00-17:00), got {value!r}")
        if value[:5] == value[6:]:
            raise ValueError(f"{value!r} is an empty window: start and end are the same")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin or UTC"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start(self) -> time:
        hour, minute = self.hours[:5].split(":")
        return time(int(hour), int(minute))

    @property
    def end(self) -> time | None:
        """None for 24:00, the end of the day."""
        hour, minute = self.hours[6:].split(":")
        return None if hour == "24" else time(int(hour), int(minute))


class Hook(_Strict):
    """One command at a named point of a deploy: argv, in a service or on the host."""

    command: list[str] = Field(min_length=1)
    # A compose service to run it in; none: on the deploy host, in the environment's checkout.
    service: ServiceName | None = None
    # exec: in the running container; run: a one-off container of the service's image.
    mode: Literal["exec", "run"] = "exec"
    timeout: float = Field(default=300, gt=0, le=6 * 3600)

    @field_validator("command", mode="before")
    @classmethod
    def _argv_not_text(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError(
                "give the command as a list of words (argv), e.g. [curl, -fsS, URL]; it runs "
                "without a shell (write [sh, -c, '...'] to use one)"
            )
        return value

    @field_validator("command")
    @classmethod
    def _no_empty_words(cls, value: list[str]) -> list[str]:
        if any(not word for word in value):
            raise ValueError("every word of command must be non-empty")
        return value


class Hooks(_Strict):
    before_backup: list[Hook] = []
    after_migrate: list[Hook] = []
    after_health: list[Hook] = []
    after_revert: list[Hook] = []

    def at(self, point: str) -> list[Hook]:
        hooks: list[Hook] = getattr(self, point)
        return hooks

    def describe(self) -> list[str]:
        """`point: N` for each point that has hooks, for the status page."""
        return [
            f"{point.replace('_', ' ')}: {len(self.at(point))}"
            for point in type(self).model_fields
            if self.at(point)
        ]
