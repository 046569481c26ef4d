"""What a deploy does to the database: whether a migration changed it, what a restore keeps,
and which services write to it."""

from jobs.database.keep import keep_current
from jobs.database.watch import watch_database
from jobs.database.writers import stop_writers, writers_of

__all__ = ["keep_current", "stop_writers", "watch_database", "writers_of"]
