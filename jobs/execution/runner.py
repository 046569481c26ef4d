"""The one place commands run: argv lists only, never a shell, always a timeout.

Output streams into the deploy log line by line (so the status page can follow it) and the last
lines are kept for the error message when the command fails.

Fencing: a runner made with a `fence` (the deploy's EnvironmentLock.check) calls it right
before every command, so a deploy that lost its environment's lock raises LockLost instead of
changing anything more. Only commands that change nothing may opt out with `read_only=True`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from jobs.execution.deploylog import DeployLog
from jobs.failures.errors import CommandFailed

TAIL_LINES = 40
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Commands write checkouts and build contexts as git and docker normally would (jobs/worker/
# private.py gives deployhook's own processes 077).
COMMAND_UMASK = 0o022
_LIBC = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    exit_code: int
    duration: float
    output: str  # the last TAIL_LINES lines (stdout+stderr, or stderr alone with stdout_path)


class Runner:
    def __init__(
        self,
        log: DeployLog,
        environ: Mapping[str, str] | None = None,
        fence: Callable[[], None] | None = None,
    ) -> None:
        self.log = log
        self.environ = dict(os.environ if environ is None else environ)
        self.fence = fence

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        cwd: Path | None = None,
        check: bool = True,
        stdin_path: Path | None = None,
        stdout_path: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        quiet: bool = False,
        read_only: bool = False,
        stdin_from: Sequence[str] | None = None,
    ) -> CommandResult:
        """Run argv; raise CommandFailed on a non-zero exit (when check) or a timeout.

        Unless `read_only`, the fence runs first: LockLost, and nothing runs, when this deploy
        no longer holds its environment's lock. `stdin_from`: a second command, fed
        `stdin_path`, whose stdout is argv's stdin (a pipe, without a shell); either one
        failing fails the whole, and its stderr joins the output.
        """
        command = [str(part) for part in argv]
        feeder_argv = [str(part) for part in stdin_from] if stdin_from is not None else None
        shown_argv = [*feeder_argv, "|", *command] if feeder_argv else command
        if not read_only:
            self.guard()
        self.log.lines("$ " + " ".join(shown_argv))
        wall_start = time.time()
        env = {**self.environ, **(extra_env or {})}
        started = time.monotonic()
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        readers: list[threading.Thread] = []
        feeder: subprocess.Popen[bytes] | None = None
        with ExitStack() as stack:
            stdin: IO[bytes] | None = _open(stack, stdin_path, "rb")
            stdout = _open(stack, stdout_path, "wb")
            if feeder_argv is not None:
                feeder = _start(feeder_argv, cwd, env, stdin, subprocess.PIPE, subprocess.PIPE)
                readers.append(self._reader(feeder.stderr, tail, quiet))
                stdin = feeder.stdout
            process = _start(
                command,
                cwd,
                env,
                stdin,
                stdout if stdout is not None else subprocess.PIPE,
                subprocess.PIPE if stdout is not None else subprocess.STDOUT,
            )
            if feeder is not None and feeder.stdout is not None:
                feeder.stdout.close()  # the consumer holds the pipe; the feeder sees it close
            readers.append(
                self._reader(process.stderr if stdout is not None else process.stdout, tail, quiet)
            )
            timed_out = False
            try:
                process.wait(timeout=timeout)
                if feeder is not None:
                    feeder.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                timed_out = True
                for running in (feeder, process):
                    if running is not None and running.poll() is None:
                        _kill_group(running)
            for reader in readers:
                reader.join(timeout=5)
        duration = time.monotonic() - started
        output = self.log.mask("\n".join(tail))
        exit_code = process.returncode
        if feeder is not None and exit_code == 0:
            exit_code = feeder.returncode  # the consumer may succeed on a truncated stream
        command = shown_argv
        self.log.lines(f"exit {exit_code} after {duration:.1f}s")
        self.log.store.append_command(
            self.log.deploy_id,
            {
                "argv": [self.log.mask(part) for part in command],
                "exit": exit_code,
                "duration": round(duration, 3),
                "timed_out": timed_out,
                "started": round(wall_start, 6),
                "read_only": read_only,
            },
        )
        shown = self.log.mask(describe(command))
        masked = [self.log.mask(part) for part in command]
        if timed_out:
            raise CommandFailed(
                command, f"`{shown}` ran out of time after {timeout:.0f}s", output, shown=masked
            )
        if check and exit_code != 0:
            raise CommandFailed(
                command, f"`{shown}` exited {exit_code}", output, exit_code, shown=masked
            )
        return CommandResult(command, exit_code, duration, output)

    def guard(self) -> None:
        """The fence on its own, for a change that is not a command (the commit point)."""
        if self.fence is not None:
            self.fence()

    def _reader(self, stream: IO[bytes] | None, tail: deque[str], quiet: bool) -> threading.Thread:
        reader = threading.Thread(target=self._follow, args=(stream, tail, quiet), daemon=True)
        reader.start()
        return reader

    def _follow(self, stream: IO[bytes] | None, tail: deque[str], quiet: bool) -> None:
        if stream is None:
            return
        batch: list[str] = []
        last_flush = time.monotonic()
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            tail.append(line)
            if not quiet:
                batch.append("  " + line)
            if batch and (len(batch) >= 50 or time.monotonic() - last_flush > 0.5):
                self.log.lines(*batch)
                batch, last_flush = [], time.monotonic()
        if batch:
            self.log.lines(*batch)
        stream.close()


def describe(argv: list[str], limit: int = 12) -> str:
    """The telling part of a command for a message: compose's own options are left out."""
    if "|" in argv:  # a pipe: each side on its own
        split = argv.index("|")
        return f"{describe(argv[:split], limit)} | {describe(argv[split + 1 :], limit)}"
    words = list(argv)
    if "--file" in words:
        last_file = len(words) - 1 - words[::-1].index("--file")
        words = [Path(words[0]).name, "...", *words[last_file + 2 :]]
    shown = " ".join(words[:limit])
    return shown + (" ..." if len(words) > limit else "")


def _die_with(parent: int) -> Callable[[], None]:
    """In the child: be killed when the worker dies, so no command outlives its deploy.

    A SIGKILLed worker cannot stop its commands, and an orphaned `compose build` or `up` would
    go on moving image names and containers under the revert the next worker runs. The signal
    comes when the forking thread ends: deploys run commands on the worker's main thread.
    """

    def setup() -> None:
        # The worker's own files are private (umask 077); a checkout or a build is not.
        os.umask(COMMAND_UMASK)
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the worker died before prctl took effect
            os._exit(1)

    return setup


def _start(
    argv: list[str],
    cwd: Path | None,
    env: Mapping[str, str],
    stdin: IO[bytes] | None,
    stdout: IO[bytes] | int,
    stderr: int,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,  # so a timeout can kill the whole process group
        preexec_fn=_die_with(os.getpid()),
    )


def _open(stack: ExitStack, path: Path | None, mode: str) -> IO[bytes] | None:
    return stack.enter_context(open(path, mode)) if path is not None else None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def read_only_output(argv: Sequence[str], *, timeout: float, environ: Mapping[str, str]) -> str:
    """stdout of a command that changes nothing, outside any deploy (`check-config`).

    Raises CommandFailed on a non-zero exit or a timeout; no shell, as everywhere.
    """
    command = [str(part) for part in argv]
    try:
        done = subprocess.run(
            command, env=dict(environ), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise CommandFailed(
            command, f"`{describe(command)}` ran out of time after {timeout:.0f}s", ""
        ) from None
    except OSError as error:
        raise CommandFailed(
            command, f"`{describe(command)}` could not start: {error}", ""
        ) from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-TAIL_LINES:])
        raise CommandFailed(
            command, f"`{describe(command)}` exited {done.returncode}", tail, done.returncode
        )
    return done.stdout


def probe(argv: Sequence[str], *, timeout: float) -> int | None:
    """A read-only question asked outside any deploy (the intake's ancestry check).

    No deploy log and nothing changes; the exit code, or None when the command could not start
    or ran out of time (it is killed then).
    """
    try:
        done = subprocess.run(
            [str(part) for part in argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode
