"""The Redis URL the web app, the worker and the CLI use, required and never printed."""

from __future__ import annotations

import stat
from pathlib import Path

from config import ConfigError, Settings

# Where `deployhook up` puts its embedded Redis's socket (webhook/embedded_redis.py).
EMBEDDED_SOCKET = Path("redis") / "redis.sock"

NO_REDIS = (
    "redis.url: no Redis URL configured; set redis.url or DEPLOYHOOK_REDIS_URL, "
    "or run `deployhook up`, which starts an embedded Redis (the other commands then find it "
    "in <state_dir>/redis on their own)"
)


def redis_url(settings: Settings) -> str:
    """The configured Redis URL, else the socket of the Redis `deployhook up` runs for this
    state directory; ConfigError with what to do when there is neither."""
    if settings.redis.url is not None:
        return settings.redis.url.reveal()
    embedded = settings.state_dir / EMBEDDED_SOCKET
    if _is_socket(embedded):
        return f"unix://{embedded.resolve()}"
    raise ConfigError("configuration", [NO_REDIS])


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False
