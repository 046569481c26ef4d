"""Every program the code and the tests call is installed by the README's commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib

import pytest

from tests.support.programs import (
    ALTERNATIVES,
    PACKAGES,
    PRODUCT,
    ROOT,
    TEST_SUPPORT,
    calls,
    dockerfile_packages,
    missing,
    programs_in,
    shell_list,
)

INSTALL_SCRIPT = (ROOT / "scripts" / "install-system-packages").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _pypi() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    return {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower() for spec in specs}


def listed_for_tests() -> set[str]:
    return shell_list(INSTALL_SCRIPT, "want", section="test")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('shutil.which("caddy")', ["caddy"]),
        ('subprocess.run(["git", "push"], check=True)', ["git"]),
        ('runner.run(["pg_dump", "-Fc"], timeout=5)', ["pg_dump"]),
        ('def argv() -> list[str]:\n    return ["docker", "exec", name]', ["docker"]),
        ('SSHD = "/usr/sbin/sshd"', ["sshd"]),
        ('PG = "/usr/lib/postgresql/15/bin/initdb"', ["initdb"]),
        ('IMAGE_SHELL = "/bin/busybox"', []),  # a path inside a container image
        ('config = {"migrate": ["alembic", "upgrade", "head"]}', []),  # runs in the app
        ('subprocess.run([binary, "--version"])', []),  # found through which() elsewhere
        ('names = ["crm", "dev"]', []),
    ],
)
def test_programs_are_found_in_calls_paths_and_builders(source: str, expected: list[str]) -> None:
    """The collector finds which(), absolute program paths and argv heads, and nothing else."""
    assert sorted(programs_in(source)) == expected


def test_every_program_the_product_calls_is_in_the_image() -> None:
    """What jobs/, webhook/ and config/ run is installed in the container image."""
    found = calls(PRODUCT)
    assert {"docker", "git", "pg_dump", "psql"} <= set(found)  # the collector still sees them
    assert missing(found, dockerfile_packages(DOCKERFILE), _pypi()) == []


def test_every_program_the_code_and_tests_call_is_in_the_test_list() -> None:
    """What the code, the test support and the benchmarks run, `scripts/test` installs."""
    found = calls(PRODUCT + TEST_SUPPORT)
    assert {"docker-registry", "dockerd", "caddy", "sshd"} <= set(found)
    assert missing(found, listed_for_tests(), _pypi()) == []


@pytest.mark.parametrize("package", ["docker-registry", "caddy", "openssh-server", "wrk"])
def test_a_package_taken_off_the_list_fails_with_its_name(package: str) -> None:
    """Removing one package from the test list is reported with that package's name."""
    listed = listed_for_tests()
    assert package in listed
    problems = missing(calls(PRODUCT + TEST_SUPPORT), listed - {package}, _pypi())
    assert problems and all(f"add the Debian package {package}" in p for p in problems)


def test_a_program_without_a_known_package_is_reported() -> None:
    """A newly called program fails the check until its package is named in the table."""
    problems = missing({"frobnicate": {"jobs/x.py"}}, listed_for_tests(), _pypi())
    assert problems == ["frobnicate (called by jobs/x.py): name its package in PACKAGES"]


def test_the_package_table_agrees_with_dpkg_on_this_machine() -> None:
    """After the install each named package is there and ships the program the table says."""
    wrong = []
    for program, source in sorted(PACKAGES.items()):
        if source.kind == "debian":
            names = ALTERNATIVES.get(source.package, (source.package,))
            if not any(_ships(package, program) for package in names):
                wrong.append(f"{program}: expected it from an installed {' or '.join(names)}")
        elif source.kind == "essential":
            path = shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin")
            owner = _owner(os.path.realpath(path)) if path else None
            if owner is None or not _always_there(owner):
                wrong.append(f"{program}: expected an Essential or required package, got {owner}")
    assert wrong == [], "\n".join(wrong)


def _ships(package: str, program: str) -> bool:
    result = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    return result.returncode == 0 and any(
        re.search(rf"/s?bin/{re.escape(program)}$", line) for line in result.stdout.splitlines()
    )


def _owner(path: str) -> str | None:
    for candidate in (path, path.replace("/usr/", "/", 1)):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def _always_there(package: str) -> bool:
    """Essential, or Priority required: on every Debian system, nothing to install."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Essential} ${Priority}", package], capture_output=True, text=True
    )
    return result.stdout.split() in (["yes", "required"], ["no", "required"]) or (
        result.stdout.startswith("yes")
    )
