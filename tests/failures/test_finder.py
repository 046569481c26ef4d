"""The cause finder on real outputs of alembic, psql, pg_dump, Compose, BuildKit, git and curl.

Each file under outputs/ is what the tool printed on this kind of machine when it failed (how
each was made: outputs/README.md); the table says which line must come out as the cause.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.failures.finder import WIDTH, cause_lines, find_cause, shorten, telling_line

OUTPUTS = Path(__file__).with_name("outputs")

CAUSES = [
    (
        "alembic-not-null.txt",
        'IntegrityError: (NotNullViolation) column "author" of relation "journal" contains null '
        "values",
    ),
    ("alembic-unknown-revision.txt", "FAILED: Can't locate revision identified by 'nope'"),
    ("psql-missing-relation.txt", 'ERROR: relation "note" does not exist'),
    ("psql-aborted-transaction.txt", 'ERROR: column "nope" does not exist'),
    (
        "psql-script-error.txt",
        'ERROR: column "author" of relation "notes" contains null values',
    ),
    (
        "psql-missing-database.txt",
        'psql: error: connection to server on socket "/tmp/cap/pg/.s.PGSQL.55432" failed: '
        'FATAL: database "nope" does not exist',
    ),
    (
        "psql-server-down.txt",
        'psql: error: connection to server on socket "/tmp/cap/pg/.s.PGSQL.55433" failed: '
        "No such file or directory",
    ),
    (
        "pg_dump-missing-database.txt",
        'pg_dump: error: connection to server on socket "/tmp/cap/pg/.s.PGSQL.55432" failed: '
        'FATAL: database "nope" does not exist',
    ),
    (
        "pg_dump-permission-denied.txt",
        "pg_dump: error: query failed: ERROR: permission denied for table notes",
    ),
    (
        "pg_restore-not-an-archive.txt",
        "pg_restore: error: input file does not appear to be a valid archive (too short?)",
    ),
    ("git-fetch-missing-ref.txt", "fatal: couldn't find remote ref refs/heads/nope"),
    (
        "git-checkout-unknown-commit.txt",
        "fatal: reference is not a tree: deadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
    ),
    (
        "git-ls-remote-missing-repo.txt",
        "fatal: '/nonexistent/repo.git' does not appear to be a git repository",
    ),
    (
        "git-merge-base-unknown.txt",
        "fatal: Not a valid commit name deadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
    ),
    (
        "curl-refused.txt",
        "curl: (7) Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server",
    ),
    ("curl-http-404.txt", "curl: (22) The requested URL returned error: 404"),
    (
        "compose-run-missing-binary.txt",
        "Error response from daemon: failed to create shim task: OCI runtime create failed: runc "
        'create failed: unable to start container process: exec: "/bin/nope": stat /bin/nope: no '
        "such file or directory: unknown",
    ),
    (
        "compose-up-port-taken.txt",
        "Error response from daemon: driver failed programming external connectivity on endpoint "
        "cap-web-1: Error starting userland proxy: listen tcp4 127.0.0.1:18998: bind: address "
        "already in use",
    ),
]

# Outputs with no line marked as a cause: the last line is what there is to show.
UNMARKED = [
    ("compose-exec-stopped.txt", 'service "api" is not running'),
    (
        "compose-build-classic-builder.txt",
        "The command '/bin/sh -c echo preparing && ls /nonexistent/config' returned a non-zero "
        "code: 1",
    ),
]


@pytest.mark.parametrize(("name", "expected"), CAUSES)
def test_the_cause_line_is_found_in_real_output(name: str, expected: str) -> None:
    """Each real failure's cause line is the one found, whatever follows it."""
    assert find_cause((OUTPUTS / name).read_text()) == expected


@pytest.mark.parametrize(("name", "expected"), UNMARKED)
def test_without_a_marked_line_the_last_line_is_shown(name: str, expected: str) -> None:
    """Output that marks no cause has none found, and its last line (colours off) is shown."""
    output = (OUTPUTS / name).read_text()
    assert (find_cause(output), telling_line(output)) == (None, expected)


def test_every_captured_output_has_a_row() -> None:
    """No captured output sits in outputs/ without a row saying what its cause is."""
    rows = [name for name, _ in [*CAUSES, *UNMARKED]]
    assert sorted(p.name for p in OUTPUTS.glob("*.txt")) == sorted(rows)


def test_a_long_cause_keeps_its_innermost_words() -> None:
    """Docker's wrapped error, cut to WIDTH, still ends with what went wrong."""
    cause = find_cause((OUTPUTS / "compose-up-port-taken.txt").read_text()) or ""
    text = shorten(cause)
    assert len(text) <= WIDTH and "…" in text
    assert text.startswith("Error response from daemon: driver failed")
    assert text.endswith("bind: address already in use")


def test_a_chained_exception_gives_the_outermost_line_then_the_inner_one() -> None:
    """alembic's chained traceback: the outer exception first, the driver's own second, each
    named by its class alone."""
    lines = cause_lines((OUTPUTS / "alembic-not-null.txt").read_text())
    assert lines[:2] == (
        'IntegrityError: (NotNullViolation) column "author" of relation "journal" contains null '
        "values",
        'NotNullViolation: column "author" of relation "journal" contains null values',
    )


def test_output_without_a_marked_line_has_no_cause() -> None:
    """Plain progress output names no cause: the caller falls back to its own summary."""
    assert find_cause("Step 1/3\nStep 2/3\ndone\n") is None


def test_shorten_keeps_one_line_within_the_width() -> None:
    """A long cause becomes one line of at most WIDTH characters, cut with an ellipsis."""
    text = shorten("x " * 200)
    assert len(text) <= WIDTH and "…" in text and "\n" not in text
