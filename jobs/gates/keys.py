"""The Redis keys the release gates add (one place, for the state module family to take over)."""

from __future__ import annotations

from jobs.record import PREFIX

# Sorted set: environment target -> Unix time its next deploy window opens, for the waker.
WINDOW_WAKE_KEY = f"{PREFIX}:gates:window-wake"
