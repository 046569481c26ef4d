"""`deployhook doctor`: check a deploy host as a deploy would need it, one finding a check."""

from jobs.doctor import persistence, redis_guard, replication
from jobs.doctor.check import Finding, Status
from jobs.doctor.examine import examine

__all__ = ["Finding", "Status", "examine", "persistence", "redis_guard", "replication"]
