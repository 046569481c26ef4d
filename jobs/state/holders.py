"""A lock token that names its holder, so a consumer on the same host can prove it dead.

The token says which process holds the lock: the host (its name, the kernel's boot id and the
PID namespace, together: a pid means the same process to us and to the holder), the pid, the
process's start time (clock ticks since boot, /proc/<pid>/stat: a pid handed out again, such as
PID 1 in a namespace whose number was reused, started later), and a nonce (one process takes
many locks).

A holder is provably dead only when its host is ours and its pid is gone or started at another
time. The name alone is not enough: containers on `network_mode: host` share the host's name,
and a pid in one PID namespace says nothing about another. The kernel reuses a namespace's
number only once the namespace and all its processes are gone, so a matching number means our
namespace or a dead holder. Another host, a token from before this format, or a /proc we
cannot read: unknown, and the lock is left to run out. The judgement and the parsing are pure;
reading /proc is not.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

PROC = Path("/proc")
GONE: Literal["gone"] = "gone"
# What this host's process table says about a pid: gone, its start time, or None (cannot tell).
Seen = int | Literal["gone"] | None


@dataclass(frozen=True)
class Host:
    """Where a pid means one process: a host (or container) since its kernel booted."""

    name: str
    boot_id: str
    pid_namespace: str


@dataclass(frozen=True)
class Holder:
    host: Host | None  # None: the holder could not read its own identity (never judged dead)
    pid: int
    started: int  # clock ticks after boot, field 22 of /proc/<pid>/stat (0 with no host)
    nonce: str

    def describe(self) -> str:
        where = self.host.name if self.host else "an unknown host"
        return f"pid {self.pid} on {where} (started at tick {self.started})"


def format_token(holder: Holder) -> str:
    return json.dumps(asdict(holder), sort_keys=True)


def parse_token(raw: bytes | str) -> Holder | None:
    """The holder a token names; None for anything else (an older random token, garbage)."""
    try:
        data = json.loads(raw)
        host = data["host"]
        holder = Holder(
            Host(**host) if host is not None else None, data["pid"], data["started"], data["nonce"]
        )
    except (ValueError, TypeError, KeyError):
        return None
    numbers = [holder.pid, holder.started]
    if any(isinstance(n, bool) or not isinstance(n, int) for n in numbers):
        return None
    if holder.pid <= 0 or holder.started < 0:
        return None  # pid 0 or -1 would name a process group to os.kill
    texts = [holder.nonce, *(asdict(holder.host).values() if holder.host else ())]
    return holder if all(isinstance(text, str) and text for text in texts) else None


def provably_dead(holder: Holder, here: Host | None, seen: Seen) -> bool:
    """Dead for sure: the holder's host is ours, and its pid is gone or another process."""
    if holder.host is None or here is None or holder.host != here:
        return False
    return seen == GONE or (isinstance(seen, int) and seen != holder.started)


def read_stat(stat: str) -> Seen:
    """What a /proc/<pid>/stat line says: gone for a process that has exited (a zombie not
    yet reaped), else its start time; None when the line is not one. The command name may
    hold spaces and ')'."""
    fields = stat[stat.rfind(")") + 1 :].split()
    # Fields after the name start at field 3 (state); the start time is field 22.
    if len(fields) < 20 or not fields[19].isdigit():
        return None
    return GONE if fields[0] in ("Z", "X") else int(fields[19])


# This process's facts, from the machine.


def this_host() -> Host | None:
    try:
        boot_id = (PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink(PROC / "self/ns/pid")
    except OSError:
        return None
    return Host(socket.gethostname(), boot_id, namespace) if boot_id and namespace else None


def new_token() -> str:
    """A fresh token naming this process (with only a nonce where /proc cannot tell)."""
    started = _read_stat(PROC / "self/stat")
    if not isinstance(started, int):
        return format_token(Holder(None, os.getpid(), 0, secrets.token_hex(8)))
    holder = Holder(this_host(), os.getpid(), started, secrets.token_hex(8))
    return format_token(holder)


def look(pid: int) -> Seen:
    """What this host says about `pid`: gone, its start time, or None when it cannot tell."""
    try:
        os.kill(pid, 0)  # sees every process, unlike /proc mounted with hidepid
    except ProcessLookupError:
        return GONE
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return None
    # A pid that exits between the two looks has no stat to read: None, never a guess.
    return _read_stat(PROC / str(pid) / "stat")


def holder_is_dead(holder: Holder) -> bool:
    return provably_dead(holder, this_host(), look(holder.pid))


def _read_stat(path: Path) -> Seen:
    try:
        return read_stat(path.read_text())
    except OSError:
        return None
