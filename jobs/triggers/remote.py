"""What a remote names now, and which of it an environment's trigger matches.

The one `git ls-remote` (argv from jobs/commands/git.py) runs through the one Runner for
polling, a manual deploy's ref and the doctor; the answer is parsed once, and matched with
the trigger's own rule (`Trigger.matches`, the webhook routing's too).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from config import Environment
from config.model import Trigger
from jobs.commands.git import ls_remote
from jobs.commands.git_names import is_sha
from jobs.execution.runner import Runner

PREFIXES = {"branch": "refs/heads/", "tag": "refs/tags/"}
EVERY_BRANCH_AND_TAG = ["refs/heads/*", "refs/tags/*"]


def refs_to_ask(trigger: Trigger) -> list[str]:
    """The refs a trigger can match: its branch, or every tag."""
    if trigger.kind == "branch":
        return [f"{PREFIXES['branch']}{trigger.pattern}"]
    return [f"{PREFIXES['tag']}*"]


def trigger_ls_remote(environment: Environment) -> list[str]:
    """`git ls-remote` of what the environment's trigger can match, on its checkout's remote."""
    return ls_remote(environment.path, environment.remote, refs_to_ask(environment.trigger))


def list_remote(
    runner: Runner, environment: Environment, refs: list[str], timeout: float
) -> dict[str, str]:
    """refname -> commit on the environment's remote now. CommandFailed (exit_code None: ran
    out of time) or OSError as the runner raises them."""
    argv = ls_remote(environment.path, environment.remote, refs)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "refs"  # a listing of every tag outgrows the runner's tail
        runner.run(argv, timeout=timeout, stdout_path=out, quiet=True, read_only=True)
        return parse_listing(out.read_text(errors="replace"))


def parse_listing(text: str) -> dict[str, str]:
    """`git ls-remote` output -> refname -> commit SHA, annotated tags peeled to their commit."""
    refs: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, name = line.partition("\t")
        if name.endswith("^{}"):
            refs[name[:-3]] = sha  # the peeled commit wins over the tag object
        else:
            refs.setdefault(name, sha)
    return refs


def matching(trigger: Trigger, listing: dict[str, str]) -> dict[str, str]:
    """name -> commit of the refs the trigger matches (branch by name, tags by glob)."""
    prefix = PREFIXES[trigger.kind]
    return {
        ref.removeprefix(prefix): sha
        for ref, sha in listing.items()
        if ref.startswith(prefix) and is_sha(sha)
        if trigger.matches(trigger.kind, ref.removeprefix(prefix))
    }


def version_key(tag: str) -> tuple[tuple[int, object], ...]:
    """Sort key: numbers compare as numbers, so v1.10 is newer than v1.9."""
    parts: list[tuple[int, object]] = []
    number = ""
    text = ""
    for char in tag + "\0":
        if char.isdigit():
            if text:
                parts.append((1, text))
                text = ""
            number += char
        else:
            if number:
                parts.append((0, int(number)))
                number = ""
            if char != "\0":
                text += char
    return tuple(parts)
