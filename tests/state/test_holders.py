"""A reporting lock's token names its holder; only a holder on this host whose pid is gone or
belongs to a later process is judged dead, and anything unsure is alive."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from jobs.state.holders import (
    GONE,
    Holder,
    Host,
    Seen,
    format_token,
    holder_is_dead,
    look,
    new_token,
    parse_token,
    provably_dead,
    read_stat,
    this_host,
)

HERE = Host("worker-1", "9b1c-boot", "pid:[4026531836]")
HOLDER = Holder(HERE, 4242, 1_394_398, "8fb398c2de7169af")


@pytest.mark.parametrize(
    ("holder", "here", "seen", "dead"),
    [
        (HOLDER, HERE, GONE, True),
        (HOLDER, HERE, 1_500_000, True),  # the pid is another, later process's
        (HOLDER, HERE, 1_394_398, False),  # the holder itself, alive
        (HOLDER, HERE, None, False),  # this host cannot tell
        (HOLDER, replace(HERE, boot_id="rebooted"), GONE, False),
        (HOLDER, replace(HERE, name="worker-2"), GONE, False),  # another container
        (HOLDER, replace(HERE, pid_namespace="pid:[4026532001]"), GONE, False),
        (HOLDER, None, GONE, False),  # we cannot read our own identity
        (replace(HOLDER, host=None), HERE, GONE, False),  # neither could the holder
    ],
)
def test_only_a_holder_on_this_host_whose_pid_is_gone_or_reused_is_dead(
    holder: Holder, here: Host | None, seen: Seen, dead: bool
) -> None:
    """Dead needs our host (name, boot, PID namespace) and a gone or restarted pid."""
    assert provably_dead(holder, here, seen) is dead


def test_a_token_round_trips() -> None:
    """A formatted token parses back to the same holder, with or without a host."""
    assert parse_token(format_token(HOLDER)) == HOLDER
    assert parse_token(format_token(replace(HOLDER, host=None, started=0)).encode()) == replace(
        HOLDER, host=None, started=0
    )


def _token(**changes: object) -> str:
    data = json.loads(format_token(HOLDER))
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(
    "raw",
    [
        "8fb398c2de7169af",  # a random token, as every lock had before
        "",
        "[]",
        _token(pid=0),  # os.kill(0) would signal our own process group
        _token(pid=-1),
        _token(pid=True),
        _token(pid="4242"),
        _token(started=-5),
        _token(nonce=""),
        _token(host={"name": "worker-1", "boot_id": "9b1c-boot"}),
        _token(host={"name": "", "boot_id": "b", "pid_namespace": "p"}),
        json.dumps({"host": None, "pid": 1, "started": 0}),
    ],
)
def test_anything_but_a_whole_token_names_no_holder(raw: str) -> None:
    """Old tokens, garbage and a pid that would name a process group are no holder at all."""
    assert parse_token(raw) is None


@pytest.mark.parametrize(
    ("stat", "seen"),
    [
        ("42 (python3) S 1 42 42 0 -1 4194560 3 0 0 0 0 0 0 0 20 0 1 0 1394398 2 3", 1394398),
        ("7 (a) (b c) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 2 3", 55),  # ") (" in the name
        ("42 (python3) Z 1 42 42 0 -1 4194560 3 0 0 0 0 0 0 0 20 0 1 0 1394398 2 3", GONE),
        ("42 (python3) S 1 42 42", None),  # cut short
        ("", None),
    ],
)
def test_a_stat_line_gives_the_start_time_or_gone_for_a_zombie(stat: str, seen: Seen) -> None:
    """Field 22 of /proc/<pid>/stat, counted after the command name, whatever that holds; a
    process that exited and is not yet reaped is gone."""
    assert read_stat(stat) == seen


def test_this_process_is_named_and_alive_and_a_gone_pid_is_gone() -> None:
    """Our own token names us, on this host, as a live process; a finished pid is gone."""
    holder = parse_token(new_token())
    assert holder is not None and holder.host == this_host() is not None
    assert (holder.pid, look(os.getpid())) == (os.getpid(), holder.started)
    assert not holder_is_dead(holder)
    assert parse_token(new_token()) != holder  # each lock its own nonce
    assert look(2**22 + 1) == GONE  # above pid_max: no process has it
