"""notes: a small JSON API over PostgreSQL."""

VERSION = "1"
