"""The Redis URL the web app and the worker use, required and never printed."""

from __future__ import annotations

from config import ConfigError, Settings

NO_REDIS = (
    "redis.url: no Redis URL configured; set redis.url or DEPLOYHOOK_REDIS_URL, "
    "or run `deployhook up`, which starts an embedded Redis"
)


def redis_url(settings: Settings) -> str:
    """The configured Redis URL; ConfigError with what to do when there is none."""
    if settings.redis.url is None:
        raise ConfigError("configuration", [NO_REDIS])
    return settings.redis.url.reveal()
