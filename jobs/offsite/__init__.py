"""Backups off the host: restic copies, restores from them, and restore drills (docs/backups.md)."""
