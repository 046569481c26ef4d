"""The HTTP intake and the CLI. `webhook:create_app()` is what gunicorn serves."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app; with no settings, load them from DEPLOYHOOK_CONFIG.

    Flask is imported here rather than at module level so that the worker, which imports the
    CLI from this package, never loads it.
    """
    from webhook.app import create_app as build

    return build(settings)
