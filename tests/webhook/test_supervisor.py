"""`deployhook up`'s supervisor: one child dying stops the rest; a signal stops all."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from webhook.supervisor import Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_a_dying_child_stops_the_others() -> None:
    """When one child exits, the others get SIGTERM and run() returns 1."""
    supervisor = Supervisor(
        {"web": SLEEPER, "worker": [sys.executable, "-c", "raise SystemExit(3)"]}, os.environ
    )
    assert supervisor.run() == 1
    assert supervisor.children["worker"].returncode == 3
    assert supervisor.children["web"].returncode == -signal.SIGTERM


def test_sigterm_stops_every_child() -> None:
    """SIGTERM to the supervisor stops each child gracefully and run() returns 0."""
    supervisor = Supervisor({"web": SLEEPER, "worker": SLEEPER}, os.environ)

    def send_when_started() -> None:
        while len(supervisor.children) < 2:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=send_when_started)
    sender.start()
    assert supervisor.run() == 0
    sender.join()
    assert [child.returncode for child in supervisor.children.values()] == [-signal.SIGTERM] * 2
