"""Deploy state in one room: every Redis key, record, index, delivery, last-good and lock.

Everything deployhook keeps in Redis is named in `keys` and read or written by the modules
here; the rest of the code (pipeline, status pages, metrics, CLI) goes through them.
"""

from jobs.state.locks import EnvironmentLock, LockOwner
from jobs.state.records import Deploy, DeployStore

__all__ = ["Deploy", "DeployStore", "EnvironmentLock", "LockOwner"]
