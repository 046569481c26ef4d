"""Typed, validated settings, loaded once by the web app, the worker and the CLI."""

from config.loader import ConfigError, load_settings, parse_settings
from config.model import Environment, Project, Settings
from config.secrets import Secret

__all__ = [
    "ConfigError",
    "Environment",
    "Project",
    "Secret",
    "Settings",
    "load_settings",
    "parse_settings",
]
