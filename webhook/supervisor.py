"""Run several long-lived processes as one: stop all on a signal or when any one dies.

Children get their own sessions so that a Ctrl-C in the terminal reaches only us; we then
send each child one SIGTERM (gunicorn: graceful stop; the worker: hands its deploy over and
exits within 30 s). A second signal while waiting kills whatever is still running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from types import FrameType

_POLL_SECONDS = 0.2


class Supervisor:
    def __init__(self, commands: Mapping[str, list[str]], env: Mapping[str, str]) -> None:
        self.commands = dict(commands)
        self.env = dict(env)
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.signals: list[int] = []

    def run(self) -> int:
        """Start every command; return 0 after a requested stop, 1 when a child died."""
        previous = {sig: signal.signal(sig, self._note) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for name, argv in self.commands.items():
                self.children[name] = subprocess.Popen(
                    argv, env=self.env, stdin=subprocess.DEVNULL, start_new_session=True
                )
            died = self._wait_for_trouble()
            if died is not None:
                code = self.children[died].returncode
                print(
                    f"deployhook: the {died} process exited with code {code}; stopping the others",
                    file=sys.stderr,
                )
            self._stop_all()
            return 0 if died is None else 1
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)

    def _wait_for_trouble(self) -> str | None:
        """Block until a stop is requested (None) or a child exits (its name)."""
        while not self.signals:
            for name, child in self.children.items():
                if child.poll() is not None:
                    return name
            time.sleep(_POLL_SECONDS)
        return None

    def _stop_all(self) -> None:
        alive = [child for child in self.children.values() if child.poll() is None]
        if not alive:
            return
        seen = len(self.signals)
        for child in alive:
            child.send_signal(signal.SIGTERM)
        while any(child.poll() is None for child in alive):
            if len(self.signals) > seen:  # asked again: stop waiting for a graceful end
                for child in alive:
                    if child.poll() is None:
                        os.killpg(child.pid, signal.SIGKILL)
            time.sleep(_POLL_SECONDS)
