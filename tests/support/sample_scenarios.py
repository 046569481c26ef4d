"""Ready-made commits for the sample app, each a way a real deploy goes right or wrong.

Each function returns the files to change (path -> content, None deletes) and a message,
computed from origin's tip of the branch, so scenarios stack: a migration always follows the
current head revision. VERSIONS names what `/api/v1/version` answers after each one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support import git_repo

Change = tuple[dict[str, str | None], str]

VERSIONS = {
    "good_change": "2",
    "broken_build": "broken-build",
    "failing_migration": "failing-migration",
    "destructive_migration_unhealthy_code": "destructive",
    "never_healthy": "never-healthy",
    "side_commit": "side",
    "flapping_health": "flapping",
    "failing_concurrent_index": "half-built-index",
}
MIGRATIONS = "app/migrations/versions"
SCHEMA = "app/schema.json"

MIGRATION = '''"""{doc}"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}
'''


def next_migration(author: Path, slug: str, doc: str, body: str, branch: str) -> dict[str, str]:
    """A migration file that follows the branch's current head revision."""
    names = git_repo.list_files(author, MIGRATIONS, branch)
    revisions: list[str] = []
    downs: set[str] = set()
    for name in names:
        text = git_repo.read(author, name, branch)
        revisions += re.findall(r'^revision = "([^"]+)"', text, flags=re.MULTILINE)
        downs.update(re.findall(r'^down_revision = "([^"]+)"', text, flags=re.MULTILINE))
    heads = [revision for revision in revisions if revision not in downs]
    if len(heads) != 1:
        raise ValueError(f"expected one migration head on {branch}, got {heads}")
    revision = f"{len(revisions) + 1:04d}_{slug}"
    text = MIGRATION.format(doc=doc, revision=revision, down=heads[0], body=body)
    return {f"{MIGRATIONS}/{revision}.py": text}


def _schema(author: Path, branch: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(git_repo.read(author, SCHEMA, branch))
    return loaded


def _dump(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def good_change(author: Path, branch: str = "main") -> Change:
    """A new column, filled by its migration, that the new code requires: healthy once migrated."""
    schema = _schema(author, branch)
    required = schema["required"]
    assert isinstance(required, dict)
    required["customers"] = [*required["customers"], "phone"]
    body = (
        '    op.add_column("customers", sa.Column("phone", sa.Text, nullable=True))\n'
        "    op.execute(\"UPDATE customers SET phone = '+1-555-0100'\")"
    )
    files: dict[str, str | None] = {
        **next_migration(author, "customer_phone", "Customers get a phone.", body, branch),
        SCHEMA: _dump(schema),
        "VERSION": VERSIONS["good_change"] + "\n",
    }
    return files, "Customers get a phone number"


def broken_build(author: Path, branch: str = "main") -> Change:
    """A Dockerfile step that fails: `compose build` exits non-zero."""
    dockerfile = git_repo.read(author, "Dockerfile", branch) + "\nRUN false\n"
    files: dict[str, str | None] = {
        "Dockerfile": dockerfile,
        "VERSION": VERSIONS["broken_build"] + "\n",
    }
    return files, "Build step that fails"


def failing_migration(author: Path, branch: str = "main") -> Change:
    """A migration that commits a new table and damaged rows, then raises: a restore undoes it."""
    body = (
        "    # Outside the migration's transaction, so the damage stays when it fails below.\n"
        "    with op.get_context().autocommit_block():\n"
        '        op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))\n'
        "        op.execute(\"UPDATE customers SET name = name || ' (damaged)'\")\n"
        '    raise RuntimeError("migration failed midway on purpose")'
    )
    files: dict[str, str | None] = {
        **next_migration(author, "half_done", "Fails midway.", body, branch),
        "VERSION": VERSIONS["failing_migration"] + "\n",
    }
    return files, "Migration that fails midway"


def failing_concurrent_index(author: Path, branch: str = "main") -> Change:
    """`CREATE UNIQUE INDEX CONCURRENTLY` that fails on duplicates, leaving an invalid index.

    Nothing rolls that back (it runs outside any transaction) and pg_dump does not even show
    it: only the catalog does. The version table stays where it was.
    """
    body = (
        "    with op.get_context().autocommit_block():\n"
        "        op.execute(\n"
        '            "CREATE UNIQUE INDEX CONCURRENTLY customers_half_built ON customers ((1))"\n'
        "        )"
    )
    files: dict[str, str | None] = {
        **next_migration(author, "half_built_index", "Fails building an index.", body, branch),
        "VERSION": VERSIONS["failing_concurrent_index"] + "\n",
    }
    return files, "Index built concurrently that fails on duplicates"


def destructive_migration_unhealthy_code(author: Path, branch: str = "main") -> Change:
    """A migration that drops customers.email (and its data) while the code still needs it."""
    body = '    op.drop_column("customers", "email")'
    files: dict[str, str | None] = {
        **next_migration(author, "drop_email", "Drops customer emails.", body, branch),
        "VERSION": VERSIONS["destructive_migration_unhealthy_code"] + "\n",
    }
    return files, "Drop customer emails"


def never_healthy(author: Path, branch: str = "main", hang: bool = False) -> Change:
    """Code needing a table no migration creates (503 forever); `hang`: health never answers."""
    schema = _schema(author, branch)
    required = schema["required"]
    assert isinstance(required, dict)
    required["feature_flags"] = ["id", "name"]
    if hang:
        schema["health_stall_seconds"] = 3600
    files: dict[str, str | None] = {
        SCHEMA: _dump(schema),
        "VERSION": VERSIONS["never_healthy"] + "\n",
    }
    return files, "Feature flags without their migration"


def flapping_health(author: Path, branch: str = "main") -> Change:
    """Health answers healthy, then unhealthy from 1 s after start, then healthy from 4 s."""
    schema = _schema(author, branch)
    schema["health_flap_seconds"] = [0, 1, 4]
    files: dict[str, str | None] = {
        SCHEMA: _dump(schema),
        "VERSION": VERSIONS["flapping_health"] + "\n",
    }
    return files, "Health that flaps while the service starts"


def side_commit(author: Path, branch: str = "side") -> Change:
    """A harmless change meant for a branch other than the deployed one."""
    files: dict[str, str | None] = {"VERSION": VERSIONS["side_commit"] + "\n"}
    return files, "Work in progress on a side branch"
