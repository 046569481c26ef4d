"""What the last poll of an environment saw and when the next one is due (JSON in Redis).

Kept apart from the poller (jobs/triggers/poll.py) so the status page can read it without
importing the worker side.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from redis import Redis

from jobs.state import keys


@dataclass
class PollState:
    """What the status page shows and the next poll compares with (kept as JSON in Redis)."""

    interval: float
    last_at: str | None = None
    next_at: str | None = None
    result: str = "not polled yet"
    seen: dict[str, str] | None = None  # refname (branch or tag name) -> commit

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes | str | None, interval: float) -> PollState:
        try:
            data = json.loads(raw) if raw else {}
            seen = data.get("seen")
            return cls(
                interval=interval,
                last_at=data.get("last_at"),
                next_at=data.get("next_at"),
                result=str(data.get("result", "not polled yet")),
                seen={str(k): str(v) for k, v in seen.items()} if isinstance(seen, dict) else None,
            )
        except (ValueError, AttributeError, TypeError):
            return cls(interval=interval)


def read_poll(connection: Redis, target: str, interval: float) -> PollState:
    return PollState.from_json(connection.get(keys.poll_state(target)), interval)


def keep_poll(connection: Redis, target: str, state: PollState) -> None:
    connection.set(keys.poll_state(target), state.to_json())
