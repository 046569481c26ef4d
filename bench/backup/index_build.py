"""The primary key build at the end of a restore, at maintenance_work_mem 64MB vs 512MB.

    .venv/bin/python bench/backup/index_build.py [--megabytes 1024] [--rounds 4]

The sample app's PostgreSQL (the Docker test bed, as bench/backup/run.py) gets the same
~1 GB table; then, order alternating, `ALTER TABLE ADD PRIMARY KEY` in a session with each
setting (the key dropped again in between). This is the part of a restore that deployhook's
PGOPTIONS changes; run.py --restore-only measures the whole restore.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench.backup.run import fill  # noqa: E402
from bench.bed import Bed, on_sample_bed, seconds  # noqa: E402

SETTINGS = ("64MB", "512MB")
ADD_KEY = "ALTER TABLE bench_rows ADD PRIMARY KEY (id)"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    def body(bed: Bed) -> int:
        bed.app.compose_ok("stop", "api")
        fill(bed, args.megabytes)
        bed.app.psql("ALTER TABLE bench_rows DROP CONSTRAINT bench_rows_pkey")
        return measure(bed, args.rounds)

    return on_sample_bed("bench-index-", body)


def measure(bed: Bed, rounds: int) -> int:
    times: dict[str, list[float]] = {memory: [] for memory in SETTINGS}
    for number in range(rounds):
        order = SETTINGS if number % 2 == 0 else SETTINGS[::-1]
        for memory in order:
            # Fixed text only: the two settings above, no outside input.
            build = f"SET maintenance_work_mem = '{memory}'; {ADD_KEY}"
            times[memory].append(seconds(lambda: bed.app.psql(build)))  # noqa: B023
            bed.app.psql("ALTER TABLE bench_rows DROP CONSTRAINT bench_rows_pkey")
        print(f"round {number + 1}: " + ", ".join(f"{m} {times[m][-1]:.2f} s" for m in SETTINGS))
    ratios = [a / b for a, b in zip(times["512MB"], times["64MB"], strict=True)]
    print("512MB / 64MB per round: " + ", ".join(f"{r:.2f}" for r in ratios)
          + f"; median {statistics.median(ratios):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
