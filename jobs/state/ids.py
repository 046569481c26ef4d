"""Deploy ids: unique by construction, sortable by time, and one pattern checks them all.

`d-YYYYMMDD-HHMMSS-mmm-<16 hex>`: the UTC time to the millisecond, then 64 random bits from
uuid4. Two ids made in the same millisecond differ unless 64 random bits repeat, and even then
the record is written only if no record has that id (jobs/state/submit.py), so a collision is
refused, never an overwrite. Ids sort by time as plain strings, like a ULID.

Ids of older versions (`d-YYYYMMDD-HHMMSS-xxxxxx`) stay readable.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime

# [0-9], not \d: \d also matches other scripts' digits (Arabic-Indic and the like).
ID_BODY = r"d-[0-9]{8}-[0-9]{6}-(?:[0-9]{3}-[0-9a-f]{16}|[0-9a-f]{6})"
DEPLOY_ID = re.compile(rf"^{ID_BODY}\Z")  # \Z: `$` would let a trailing newline in
# A deploy id at the end of a name (backup files end with the id of the deploy that took them).
ENDS_WITH_DEPLOY_ID = re.compile(rf"{ID_BODY}\Z")
ID_HINT = "d-YYYYMMDD-HHMMSS-mmm-xxxxxxxxxxxxxxxx"


def new_deploy_id(now: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    stamp = moment.strftime("%Y%m%d-%H%M%S") + f"-{moment.microsecond // 1000:03d}"
    return f"d-{stamp}-{uuid.uuid4().hex[:16]}"
