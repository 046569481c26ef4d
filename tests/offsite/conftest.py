"""Beds for the off-site tests: one moto S3 server and one sshd per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.offsite import running_moto
from tests.support.sshd import Sshd, running_sshd


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_moto(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture(scope="module")
def sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    # No Docker behind it: sessions only serve sftp here.
    with running_sshd(tmp_path_factory.mktemp("sshd"), "unix:///nonexistent") as server:
        yield server


def sftp_repository(sshd: Sshd, path: Path) -> str:
    return f"sftp://root@127.0.0.1:{sshd.port}/{path}"
