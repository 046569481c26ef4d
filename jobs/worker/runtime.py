"""The settings a worker process runs its jobs with, bound once when the worker starts.

RQ jobs carry only a deploy id (never configuration or secrets), so the job function needs
the worker's own settings; the worker binds them here before it takes its first job.
"""

from __future__ import annotations

from config import Settings

_bound: list[Settings] = []


def bind(settings: Settings) -> None:
    _bound[:] = [settings]


def settings() -> Settings:
    if not _bound:
        raise RuntimeError("no settings bound: start jobs through `deployhook worker`")
    return _bound[0]
