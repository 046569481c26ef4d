"""Rules that are never bent, checked over the code itself and the commands it builds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from config.model import Database
from jobs.commands import postgres
from jobs.commands.compose import Compose

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_CODE = sorted(
    path for package in ("config", "jobs", "webhook") for path in (ROOT / package).rglob("*.py")
)
# Argv words that could destroy data or .env files if they ever reached a command.
FORBIDDEN_WORDS = {"down", "prune", "clean", "volume", "-x", "--volumes", "rmi"}


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


@pytest.mark.parametrize("path", PRODUCT_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_shell_anywhere(path: Path) -> None:
    """No product code runs a shell: no shell=True, os.system or os.popen."""
    tree = ast.parse(path.read_text(), str(path))
    for call in _calls(tree):
        for keyword in call.keywords:
            is_true = isinstance(keyword.value, ast.Constant) and keyword.value.value is True
            assert not (keyword.arg == "shell" and is_true), f"{path}:{call.lineno} shell=True"
        name = ast.unparse(call.func)
        assert name not in {"os.system", "os.popen"}, f"{path}:{call.lineno} {name}"


@pytest.mark.parametrize("path", PRODUCT_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_destructive_command_words_in_code(path: Path) -> None:
    """No string in product code is a command word that deletes volumes or untracked files."""
    tree = ast.parse(path.read_text(), str(path))
    words = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not words & FORBIDDEN_WORDS, f"{path}: {sorted(words & FORBIDDEN_WORDS)}"


def test_compose_commands_never_remove_volumes() -> None:
    """Every compose command deployhook can build is free of down, -v, rm and prune."""
    compose = Compose(("docker", "compose"), "crm_prod", Path("/srv/crm"), ("compose.yml",))
    database = Database(service="postgres", name="crm", user="crm")
    built = [
        compose.build(),
        compose.up(remove_orphans=True),
        compose.up(["api"]),
        compose.up(["api"], no_deps=True),
        compose.stop(["api", "worker"]),
        compose.exec("api", ["alembic", "upgrade", "head"]),
        compose.config_json(),
        postgres.dump(database, compose),
        postgres.restore_into_standby(database, compose, "crm__dh_standby"),
        postgres.swap_in_standby(database, compose, "crm__dh_standby", "crm__dh_kept_1"),
        postgres.restore_script(database, compose),
        postgres.replace_owned_objects(database, compose),
        postgres.can_create_databases(database, compose),
        postgres.list_contents(database, compose),
        postgres.drop_database(database, compose, "crm__dh_standby"),
    ]
    for argv in built:
        assert all(isinstance(part, str) for part in argv)
        assert not set(argv) & (FORBIDDEN_WORDS | {"-v", "rm"}), argv


def test_url_database_password_stays_out_of_argv() -> None:
    """A database URL's password goes to the libpq environment, never into the argv."""
    database = Database.model_validate(
        {"url": "postgresql://crm:pa55w0rd@db.internal:6432/crm", "name": "crm"}
    )
    compose = Compose(("docker", "compose"), "crm", Path("/srv/crm"), ("compose.yml",))
    assert not any("pa55w0rd" in part for part in postgres.dump(database, compose))
    env = postgres.connection_env(database)
    assert env["PGPASSWORD"] == "pa55w0rd"
    assert (env["PGHOST"], env["PGPORT"]) == ("db.internal", "6432")
