"""The command runner: argv only, timeouts, output into the deploy log with secrets masked."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import redis

from jobs.execution.deploylog import DeployLog
from jobs.execution.runner import Runner
from jobs.failures.errors import CommandFailed
from jobs.state.records import DeployStore, new_deploy_id


@pytest.fixture
def runner(redis_conn: redis.Redis) -> Runner:
    log = DeployLog(DeployStore(redis_conn), new_deploy_id(), secrets=["hunter2-secret"])
    return Runner(log)


def test_output_reaches_the_log_masked(runner: Runner) -> None:
    """Command output lands in the deploy log, with configured secrets replaced."""
    runner.run([sys.executable, "-c", "print('token=hunter2-secret ok')"], timeout=30)
    log = "\n".join(runner.log.store.log(runner.log.deploy_id))
    assert "token=<secret> ok" in log
    assert "hunter2-secret" not in log


def test_non_zero_exit_raises_with_tail(runner: Runner) -> None:
    """A failing command raises CommandFailed naming the exit status and keeping its output."""
    code = "import sys; print('boom happened'); sys.exit(3)"
    with pytest.raises(CommandFailed) as caught:
        runner.run([sys.executable, "-c", code], timeout=30)
    assert "exited 3" in str(caught.value)
    assert "boom happened" in caught.value.output_tail


def test_timeout_kills_the_process_group(runner: Runner, tmp_path: Path) -> None:
    """A command past its timeout is killed with its children and reported as out of time."""
    marker = tmp_path / "child-survived"
    child = f"import time; time.sleep(3); open({str(marker)!r}, 'w').write('x')"
    parent = (
        "import subprocess, sys, time; "
        f"subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"
    )
    with pytest.raises(CommandFailed, match="ran out of time"):
        runner.run([sys.executable, "-c", parent], timeout=1)
    time.sleep(3.5)
    assert not marker.exists()


def test_arguments_are_never_shell_text(runner: Runner, tmp_path: Path) -> None:
    """Shell metacharacters in an argument stay one literal argument."""
    target = tmp_path / "out"
    hostile = "x; touch /tmp/deployhook-pwned $(id)"
    runner.run(
        [
            sys.executable,
            "-c",
            "import sys; open(sys.argv[1], 'w').write(sys.argv[2])",
            str(target),
            hostile,
        ],
        timeout=30,
    )
    assert target.read_text() == hostile
    assert not Path("/tmp/deployhook-pwned").exists()


def test_commands_are_recorded(runner: Runner) -> None:
    """Each command's argv, exit status and duration are kept with the deploy."""
    runner.run([sys.executable, "-c", "pass"], timeout=30)
    [command] = runner.log.store.commands(runner.log.deploy_id)
    assert command["argv"][0] == sys.executable
    assert command["exit"] == 0
    assert command["duration"] >= 0


UPPER = [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())"]


def test_a_pipe_feeds_one_command_into_the_other(runner: Runner, tmp_path: Path) -> None:
    """stdin_from: the feeder reads stdin_path, its stdout is the command's stdin; one record."""
    source, target = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("rows\n" * 50_000)
    feeder = [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read())"]
    runner.run(UPPER, timeout=30, stdin_from=feeder, stdin_path=source, stdout_path=target)
    assert target.read_text() == "ROWS\n" * 50_000
    recorded = runner.log.store.commands(runner.log.deploy_id)[-1]
    assert recorded["argv"] == [*feeder, "|", *UPPER] and recorded["exit"] == 0


def test_a_feeder_that_fails_fails_the_pipe(runner: Runner, tmp_path: Path) -> None:
    """The command succeeding on a stream cut short is no success: the feeder's exit counts."""
    code = "import sys; print('half'); print('unreadable', file=sys.stderr); sys.exit(4)"
    feeder = [sys.executable, "-c", code]
    with pytest.raises(CommandFailed) as caught:
        runner.run(UPPER, timeout=30, stdin_from=feeder, stdout_path=tmp_path / "out.txt")
    assert "exited 4" in str(caught.value) and " | " in str(caught.value)
    assert "unreadable" in caught.value.output_tail
    assert (tmp_path / "out.txt").read_text() == "HALF\n"


def test_a_pipe_past_its_timeout_is_killed_whole(runner: Runner, tmp_path: Path) -> None:
    """Both sides of a pipe are killed when it runs out of time."""
    marker = tmp_path / "feeder-survived"
    code = f"import time; time.sleep(3); open({str(marker)!r}, 'w').write('x')"
    with pytest.raises(CommandFailed, match="ran out of time"):
        runner.run(UPPER, timeout=1, stdin_from=[sys.executable, "-c", code])
    time.sleep(4)
    assert not marker.exists()
