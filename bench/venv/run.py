"""The README's test command up to pytest's start, from a fresh clone: one commit against another.

    .venv/bin/python bench/venv/run.py [--rounds 3] [--before REF] [--after REF] [--cold]

Each round clones each commit into a scratch directory under .tmp/ (the clone is not timed)
and runs that clone's own `scripts/test` up to the line that starts pytest: system packages,
the venv, ruff, mypy's start in the background (stopped at the end) and the GitHub description's
cache; each command's start is stamped by bash's xtrace. Which side goes first alternates from
round to round. Printed: per round, each step's seconds and the whole preamble's, the per-round
ratios after/before with their median, and the machine's line with its load before and after.

Caches outside the clone stay as CI finds them on this machine (the test cache's wheelhouse,
the cached GitHub description): a warm-up run of `--after` fills what it keeps before round 1.
`--cold` deletes the wheelhouses before every `--after` run instead (a machine that never ran
the tests, or a changed pyproject.toml). Runs packages installs as root, like scripts/test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench.bed import machine  # noqa: E402

BEFORE = "5f84493"  # main before the wheelhouse: every fresh clone resolved against the indexes
SCRATCH = ROOT / ".tmp" / "bench-venv"
TRACE = re.compile(r"^\+ (\d+\.\d+) (.*)$")


def preamble(test_script: str) -> str:
    """scripts/test up to the line that starts pytest, traced, stopping what it left running."""
    lines = test_script.splitlines()
    cut = next(i for i, line in enumerate(lines) if ".venv/bin/pytest" in line)
    body = "\n".join(lines[:cut])
    return (
        "PS4='+ ${EPOCHREALTIME} '\nset -x\n"
        f"{body}\n"
        "set +x\nkill $(jobs -p) 2>/dev/null || true\nwait 2>/dev/null || true\n"
        'rm -f "${types_log:-}"\n'
    )


def steps(trace: str, start: float, end: float) -> list[tuple[str, float]]:
    """(command, seconds) for each top-level command the trace stamped."""
    stamped = [(float(m[1]), m[2]) for m in map(TRACE.match, trace.splitlines()) if m]
    stamped = [(t, cmd) for t, cmd in stamped if not cmd.startswith(("PS4=", "set +x"))]
    ends = [t for t, _ in stamped[1:]] + [end]
    return [(cmd[:60], stop - t) for (t, cmd), stop in zip(stamped, ends, strict=True)] + [
        ("(bash start, before the first command)", stamped[0][0] - start if stamped else 0.0)
    ]


def run_once(name: str, commit: str, round_no: int, cold: bool) -> float:
    """Clone `commit`, run its preamble, print each step; the preamble's seconds."""
    clone = SCRATCH / f"{name}-{round_no}"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", commit], check=True)
    if cold:
        cache = Path(os.environ.get("DEPLOYHOOK_TEST_CACHE", "/var/cache/deployhook-tests"))
        for house in cache.glob("venv-wheels-*"):
            shutil.rmtree(house) if house.is_dir() else house.unlink()
    script = preamble((clone / "scripts" / "test").read_text())
    log = SCRATCH / f"{name}-{round_no}.log"
    start = time.time()
    with log.open("w") as output:
        subprocess.run(
            ["bash", "-c", script, str(clone / "scripts" / "test")],
            cwd=clone, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            check=True, timeout=900,
        )  # fmt: skip
    end = time.time()
    for command, seconds in steps(log.read_text(), start, end):
        print(f"    {name:6} {seconds:6.1f} s  {command}")
    load = os.getloadavg()[0]
    print(f"  {name} ({commit[:8]}): {end - start:.1f} s before pytest, load {load:.1f}")
    shutil.rmtree(clone, ignore_errors=True)
    return end - start


def commit_of(ref: str) -> str:
    rev = ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"]
    return subprocess.run(rev, capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--cold", action="store_true", help="no wheelhouse for --after")
    args = parser.parse_args()
    sides = {name: commit_of(ref) for name, ref in (("before", args.before), ("after", args.after))}
    SCRATCH.mkdir(parents=True, exist_ok=True)
    print(machine())
    if not args.cold:
        print("warm-up (not counted):")
        run_once("after", sides["after"], 0, cold=False)
    seconds: dict[str, list[float]] = {"before": [], "after": []}
    for round_no in range(1, args.rounds + 1):
        order = ["before", "after"] if round_no % 2 else ["after", "before"]
        print(f"round {round_no} ({' first, '.join(order)} second):")
        for name in order:
            seconds[name].append(run_once(name, sides[name], round_no, args.cold))
    ratios = [a / b for a, b in zip(seconds["after"], seconds["before"], strict=True)]
    print(machine())
    print(f"preamble after/before: median of per-round ratios {statistics.median(ratios):.2f}x")
    print(f"  per round: {', '.join(f'{r:.2f}x' for r in ratios)}")
    runs = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(seconds["after"], seconds["before"],
                                                         strict=True))  # fmt: skip
    saved = statistics.median(b - a for a, b in zip(seconds["after"], seconds["before"],
                                                    strict=True))  # fmt: skip
    print(f"  seconds after/before: {runs}; median saved {saved:.1f} s")


if __name__ == "__main__":
    main()
