"""The `redis` section: a URL or Sentinel, the replicas a 202 waits for, each problem named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError, parse_settings
from config.plaintext import plain_text_secrets
from config.sentinel import address
from tests.support.deliveries import SECRETS, config_text


def _parse(tmp_path: Path, section: dict[str, Any], **environ: str) -> Any:
    text = config_text(tmp_path) + yaml.safe_dump({"redis": section})
    return parse_settings(text, "test", {**SECRETS, **environ})


@pytest.mark.parametrize(
    ("section", "environ", "replicas"),
    [
        ({}, {}, 0),
        ({"url": "redis://10.0.0.1/0"}, {}, 0),
        ({"url": "redis://10.0.0.1/0", "replicas": 2}, {}, 2),
        ({"sentinel": {"sentinels": ["10.0.0.1:26379"]}}, {}, 1),
        ({"sentinel": {"sentinels": ["[fd00::1]:26379"]}, "replicas": 0}, {}, 0),
        ({}, {"DEPLOYHOOK_REDIS_URL": "redis://10.0.0.1/0"}, 0),
    ],
)
def test_how_many_replicas_a_202_waits_for(
    tmp_path: Path, section: dict[str, Any], environ: dict[str, str], replicas: int
) -> None:
    """Default: one with Sentinel, none otherwise (today's behaviour); always configurable."""
    assert _parse(tmp_path, section, **environ).redis.acknowledging_replicas == replicas


@pytest.mark.parametrize(
    ("section", "environ", "problem"),
    [
        (
            {"url": "redis://a/0", "sentinel": {"sentinels": ["a:1"]}},
            {},
            "redis: give url (or DEPLOYHOOK_REDIS_URL) or sentinel, not both",
        ),
        (
            {"sentinel": {"sentinels": ["a:1"]}},
            {"DEPLOYHOOK_REDIS_URL": "redis://a/0"},
            "redis: give url (or DEPLOYHOOK_REDIS_URL) or sentinel, not both",
        ),
        (
            {"sentinel": {"sentinels": ["a b:1"]}},
            {},
            "redis.sentinel.sentinels.0: expected host:port",
        ),
        ({"sentinel": {"sentinels": ["a"]}}, {}, "redis.sentinel.sentinels.0: expected host:port"),
        ({"sentinel": {"sentinels": []}}, {}, "redis.sentinel.sentinels: List should have"),
        ({"sentinel": {"sentinels": ["a:1"], "master": "a b"}}, {}, "redis.sentinel.master"),
        ({"sentinel": {"sentinels": ["a:1"], "pasword": "x"}}, {}, "redis.sentinel.pasword"),
        ({"replicas": 1}, {}, "the embedded Redis has no replicas"),
        ({"url": "redis://a/0", "replica_timeout": 5}, {}, "redis.replica_timeout"),
        (
            {"sentinel": {"sentinels": ["a:1"], "password": "${NOT_SET}"}},
            {},
            "redis.sentinel.password: environment variable NOT_SET is not set",
        ),
    ],
)
def test_bad_redis_sections_name_the_key(
    tmp_path: Path, section: dict[str, Any], environ: dict[str, str], problem: str
) -> None:
    """Each mistake is reported with its key path and what to write instead."""
    with pytest.raises(ConfigError) as caught:
        _parse(tmp_path, section, **environ)
    assert any(line.startswith(problem) or problem in line for line in caught.value.problems), (
        caught.value.problems
    )


def test_sentinel_password_from_a_file_and_never_shown(tmp_path: Path) -> None:
    """`password_file` is read like every other secret; the settings never print it."""
    secret = tmp_path / "redis.pass"
    secret.write_text("s3cret-from-file\n")
    section = {"sentinel": {"sentinels": ["10.0.0.1:26379"], "password_file": str(secret)}}
    settings = _parse(tmp_path, section)
    assert settings.redis.sentinel.password.reveal() == "s3cret-from-file"
    assert "s3cret" not in repr(settings.redis)


def test_a_password_written_in_the_file_is_warned_about(tmp_path: Path) -> None:
    """check-config warns about Sentinel passwords written in plain text."""
    config = tmp_path / "deployhook.yml"
    section = {"sentinel": {"sentinels": ["a:1"], "password": "x", "sentinel_password": "y"}}
    config.write_text(config_text(tmp_path) + yaml.safe_dump({"redis": section}))
    warned = plain_text_secrets(config)
    assert [line.split(":")[0] for line in warned] == [
        "redis.sentinel.password",
        "redis.sentinel.sentinel_password",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0.0.1:26379", ("10.0.0.1", 26379)), ("[fd00::1]:26379", ("fd00::1", 26379))],
)
def test_sentinel_addresses_as_redis_py_wants_them(text: str, expected: tuple[str, int]) -> None:
    """host:port and [v6]:port become (host, port)."""
    assert address(text) == expected
