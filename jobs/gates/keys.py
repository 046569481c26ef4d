"""The Redis keys the release gates use, named with all the others in jobs/state/keys.py."""

from __future__ import annotations

from jobs.state.keys import WINDOW_WAKE as WINDOW_WAKE_KEY

__all__ = ["WINDOW_WAKE_KEY"]
