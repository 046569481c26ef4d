"""Every Redis key the triggers write, in one place (they move beside jobs/state/ as a group).

- commit marker: `deployhook:commit:<project>/<env>:<sha>` -> the deploy id that was queued for
  that commit by a webhook or a poll, so the other one finds it and queues nothing;
- poll state: `deployhook:poll:<project>/<env>` -> JSON {last_at, next_at, result, seen}.
"""

from __future__ import annotations

from jobs.record import PREFIX

# Long enough to cover a webhook arriving after a poll (or the reverse) and its retries;
# short enough that a branch moved back to this commit days later can deploy it again.
COMMIT_MARKER_TTL_SECONDS = 24 * 3600


def commit_marker_key(target: str, sha: str) -> str:
    return f"{PREFIX}:commit:{target}:{sha}"


def poll_state_key(target: str) -> str:
    return f"{PREFIX}:poll:{target}"
