"""Fixtures for the web-tier tests: the intake's app and client (tests/webhook/intake's own)."""

from tests.webhook.intake.conftest import app, client

__all__ = ["app", "client"]
