"""Right after the backup: what later database work of the deploy needs, started in the
background beside the checkout and the build.

- the migrate stage's opening fingerprint (jobs/database/watch.py `read_ahead`);
- the backup restored into the standby, for a revert that would restore
  (jobs/database/standby.py `prepare_restore`).

Both only read the live database; each starts only where it can be used.
"""

from __future__ import annotations

from jobs.database.standby import prepare_restore
from jobs.database.watch import read_ahead
from jobs.execution.context import DeployContext


def start_after_backup(ctx: DeployContext) -> None:
    read_ahead(ctx)
    prepare_restore(ctx)
