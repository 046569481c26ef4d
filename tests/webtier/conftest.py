"""Fixtures for the web-tier tests: the intake's app and client (tests/intake's own)."""

from tests.intake.conftest import app, client

__all__ = ["app", "client"]
