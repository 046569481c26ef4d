"""The release's migration: move the schema volume up to this release's SCHEMA (never down)."""

from __future__ import annotations

from pathlib import Path

VOLUME = Path("/schema/version")
WANTED = int((Path(__file__).resolve().parent.parent / "SCHEMA").read_text())

if __name__ == "__main__":
    now = int(VOLUME.read_text()) if VOLUME.is_file() else 0
    VOLUME.write_text(str(max(now, WANTED)))
    print(f"schema {now} -> {max(now, WANTED)}")
