"""scripts/deploy_path.py counts a deploy's path the way docs/architecture.md says it does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "deploy_path.py"
TREE = {
    "jobs/runbook/pipeline.py": """
from jobs.runbook.outcome import stage
from jobs.state.records import get, note


def deploy(deploy_id, settings):
    record = get(deploy_id)
    _remember(record)
    settings.log.info("not the deploy: no stop")
    stage(record, "build", _handed_over)


def _remember(record):
    note(record.id)


def _handed_over(record):
    get(record.id)
    get(record.id)
""",
    "jobs/runbook/outcome.py": """
from jobs.execution.context import save


def stage(record, name, action):
    save(record)
""",
    "jobs/state/records.py": "def get(deploy_id):\n    pass\n\n\ndef note(deploy_id):\n    pass\n",
    "jobs/execution/context.py": "def save(record):\n    pass\n",
}


def test_stops_are_module_crossing_calls_that_pass_the_deploy(tmp_path: Path) -> None:
    """Stops cross modules carrying the deploy; a climb comes back up; values are not followed."""
    for name, text in TREE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tree", str(tmp_path), "--list"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    # get (down), _remember's note (climbs back: from runbook after a stop into state),
    # stage (climbs back again), outcome's save (down); _handed_over's two gets never run.
    assert done.stdout.splitlines() == [
        "         jobs.runbook.pipeline.deploy:7 -> jobs.state.records.get",
        "CLIMB    jobs.runbook.pipeline._remember:14 -> jobs.state.records.note",
        "CLIMB    jobs.runbook.pipeline.deploy:10 -> jobs.runbook.outcome.stage",
        "         jobs.runbook.outcome.stage:6 -> jobs.execution.context.save",
        "4 stops in 4 modules, 2 climbs, 0 calls up (from jobs.runbook.pipeline.deploy)",
    ]


def test_the_deploys_path_stays_within_the_issues_targets() -> None:
    """One deploy's path through jobs/ makes at most 60 stops and climbs back at most 20 times
    (#18), so the path cannot silently grow back."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60, check=True
    )
    counted = re.match(r"(\d+) stops in \d+ modules, (\d+) climbs", done.stdout)
    assert counted is not None, done.stdout
    stops, climbs = int(counted[1]), int(counted[2])
    assert stops <= 60 and climbs <= 20, (
        f"expected at most 60 stops and 20 climbs, got {done.stdout.strip()}: "
        "scripts/deploy_path.py --list shows where"
    )
