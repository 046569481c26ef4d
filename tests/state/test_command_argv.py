"""Every command builder, as the exact argv it produces (Kamal's habit): no surprise words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from config.model import Database
from config.secrets import Secret
from jobs.commands import docker, git, postgres
from jobs.commands.compose import Compose
from webhook.embedded_redis import server_argv

COMPOSE = Compose(("docker", "compose"), "crm_prod", Path("/srv/crm"), ("compose.yml", "prod.yml"))
STANDALONE = Compose(("docker-compose",), "crm_dev", Path("/srv/dev"), ("compose.yml",))
BASE = [
    "docker", "compose", "--project-name", "crm_prod", "--project-directory", "/srv/crm",
    "--file", "/srv/crm/compose.yml", "--file", "/srv/crm/prod.yml",
]  # fmt: skip
IN_DB = [*BASE, "exec", "-T", "postgres"]
IN_SERVICE = Database(service="postgres", name="crm", user="crm")
BY_URL = Database(url=Secret("postgresql://crm:pw@127.0.0.1:5432/crm"), name="crm", user="crm")
SHA = "0123456789abcdef0123456789abcdef01234567"
CHECKOUT = Path("/srv/crm")
LIBC = postgres.DatabaseProperties("UTF8", "en_US.utf8", "en_US.utf8", "c", "", "crm")
ICU = postgres.DatabaseProperties("UTF8", "C", "C", "i", "und-x-icu", "crm")
BEFORE_15 = postgres.DatabaseProperties("SQL_ASCII", "C", "C", "", "", "crm_owners")
CREATEDB = [
    *IN_DB, "createdb", "--no-password", "--maintenance-db=postgres", "--username", "crm",
    "--owner", "crm", "--template=template0",
]  # fmt: skip
CAN_CREATE = postgres.SWAP_SQL_OK
PSQL = ["psql", "--no-password", "--set", "ON_ERROR_STOP=1", "--quiet"]

# fmt: off
CASES: list[tuple[str, Callable[[], list[str]], list[str]]] = [
    ("compose build", COMPOSE.build, [*BASE, "build"]),
    ("compose up all", COMPOSE.up, [*BASE, "up", "--detach", "--no-build"]),
    (
        "compose up orphans",
        lambda: COMPOSE.up(remove_orphans=True),
        [*BASE, "up", "--detach", "--no-build", "--remove-orphans"],
    ),
    (
        "compose up some",
        lambda: COMPOSE.up(["api", "web"]),
        [*BASE, "up", "--detach", "--no-build", "api", "web"],
    ),
    (
        "compose up some, no dependencies",
        lambda: COMPOSE.up(["api", "web"], no_deps=True),
        [*BASE, "up", "--detach", "--no-build", "--no-deps", "api", "web"],
    ),
    ("compose stop", lambda: COMPOSE.stop(["api", "worker"]), [*BASE, "stop", "api", "worker"]),
    (
        "compose run",
        lambda: COMPOSE.run("api", ["alembic", "upgrade", "head"]),
        [*BASE, "run", "--rm", "--no-deps", "-T", "api", "alembic", "upgrade", "head"],
    ),
    (
        "compose exec",
        lambda: COMPOSE.exec("api", ["alembic", "upgrade", "head"]),
        [*BASE, "exec", "-T", "api", "alembic", "upgrade", "head"],
    ),
    ("compose config", COMPOSE.config_json, [*BASE, "config", "--format", "json"]),
    (
        "standalone compose",
        STANDALONE.build,
        [
            "docker-compose",
            "--project-name",
            "crm_dev",
            "--project-directory",
            "/srv/dev",
            "--file",
            "/srv/dev/compose.yml",
            "build",
        ],
    ),
    (
        "pg_dump in the service",
        lambda: postgres.dump(IN_SERVICE, COMPOSE),
        [
            *IN_DB,
            "pg_dump",
            "--format=custom",
            "--compress=1",
            "--no-password",
            "--username",
            "crm",
            "--dbname",
            "crm",
        ],
    ),
    (
        "pg_dump by URL, on the host",
        lambda: postgres.dump(BY_URL, COMPOSE),
        [
            "pg_dump",
            "--format=custom",
            "--compress=1",
            "--no-password",
            "--username",
            "crm",
            "--dbname",
            "crm",
        ],
    ),
    (
        "pg_restore --list",
        lambda: postgres.list_contents(IN_SERVICE, COMPOSE),
        [*IN_DB, "pg_restore", "--list"],
    ),
    (
        "pg_restore as one SQL transaction",
        lambda: postgres.restore_script(IN_SERVICE, COMPOSE),
        [*IN_DB, "pg_restore", "--no-password", "--single-transaction", "--exit-on-error",
         "--file=-"],
    ),
    (
        "pg_restore as one SQL transaction, on the host",
        lambda: postgres.restore_script(IN_SERVICE, COMPOSE, on_host=True),
        ["pg_restore", "--no-password", "--single-transaction", "--exit-on-error", "--file=-"],
    ),
    ("pg_restore --list on the host", postgres.list_contents_on_host, ["pg_restore", "--list"]),
    (
        "pg_restore of another environment's dump as one SQL transaction",
        lambda: postgres.restore_script(IN_SERVICE, COMPOSE, foreign=True),
        [*IN_DB, "pg_restore", "--no-password", "--single-transaction", "--exit-on-error",
         "--file=-", "--no-owner", "--no-privileges"],
    ),
    (
        "psql replace owned objects from the script on stdin",
        lambda: postgres.replace_owned_objects(IN_SERVICE, COMPOSE),
        [*IN_DB, "psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--quiet",
         "--output=/dev/null", "--username", "crm", "--dbname", "crm", "--command", "BEGIN",
         "--command", "DROP OWNED BY CURRENT_USER CASCADE", "--file=-"],
    ),
    (
        "createdb standby, libc",
        lambda: postgres.create_standby(IN_SERVICE, COMPOSE, "crm__dh_standby", LIBC),
        [*CREATEDB, "--encoding=UTF8", "--lc-collate=en_US.utf8", "--lc-ctype=en_US.utf8",
         "--locale-provider=libc", "crm__dh_standby"],
    ),
    (
        "createdb standby, ICU",
        lambda: postgres.create_standby(IN_SERVICE, COMPOSE, "crm__dh_standby", ICU),
        [*CREATEDB, "--encoding=UTF8", "--lc-collate=C", "--lc-ctype=C", "--locale-provider=icu",
         "--icu-locale=und-x-icu", "crm__dh_standby"],
    ),
    (
        "createdb standby, server before 15",
        lambda: postgres.create_standby(IN_SERVICE, COMPOSE, "crm__dh_standby", BEFORE_15),
        [*CREATEDB[:-3], "--owner", "crm_owners", "--template=template0",
         "--encoding=SQL_ASCII", "--lc-collate=C", "--lc-ctype=C", "crm__dh_standby"],
    ),
    (
        "psql database properties",
        lambda: postgres.database_properties(IN_SERVICE, COMPOSE),
        [*IN_DB, "psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--quiet",
         "--tuples-only", "--no-align", "--username", "crm", "--dbname", "crm", "--command",
         postgres.PROPERTIES_SQL],
    ),
    (
        "pg_restore into the standby",
        lambda: postgres.restore_into_standby(IN_SERVICE, COMPOSE, "crm__dh_standby"),
        [*IN_DB, "pg_restore", "--no-password", "--exit-on-error", "--username", "crm",
         "--dbname", "crm__dh_standby"],
    ),
    (
        "pg_restore another environment's backup into the standby",
        lambda: postgres.restore_into_standby(IN_SERVICE, COMPOSE, "s", foreign=True),
        [*IN_DB, "pg_restore", "--no-password", "--exit-on-error", "--no-owner",
         "--no-privileges", "--username", "crm", "--dbname", "s"],
    ),
    (
        "psql list the databases restores set aside",
        lambda: postgres.kept_aside_databases(IN_SERVICE, COMPOSE),
        [*IN_DB, "psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--quiet",
         "--tuples-only", "--no-align", "--username", "crm", "--dbname", "crm", "--command",
         postgres.KEPT_ASIDE_SQL],
    ),
    (
        "psql swap the standby in",
        lambda: postgres.swap_in_standby(IN_SERVICE, COMPOSE, "crm__dh_standby", "crm__dh_kept_1"),
        [*IN_DB, "psql", "--no-password", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--quiet",
         "--set", "live=crm", "--set", "standby=crm__dh_standby", "--set", "kept=crm__dh_kept_1",
         "--username", "crm", "--dbname", "postgres", "--file=-"],
    ),
    (
        "dropdb a named database",
        lambda: postgres.drop_database(IN_SERVICE, COMPOSE, "crm__dh_standby"),
        [*IN_DB, "dropdb", "--no-password", "--if-exists", "--force", "--maintenance-db=postgres",
         "--username", "crm", "crm__dh_standby"],
    ),
    (
        "pg_dump a named database",
        lambda: postgres.dump(IN_SERVICE, COMPOSE, "crm__dh_kept_1"),
        [*IN_DB, "pg_dump", "--format=custom", "--compress=1", "--no-password", "--username",
         "crm", "--dbname", "crm__dh_kept_1"],
    ),
    (
        "psql can create databases",
        lambda: postgres.can_create_databases(IN_SERVICE, COMPOSE),
        [
            *IN_DB,
            *PSQL,
            "--tuples-only",
            "--no-align",
            "--username",
            "crm",
            "--dbname",
            "crm",
            "--command",
            CAN_CREATE,
        ],
    ),
    (
        "dropdb",
        lambda: postgres.drop_database(IN_SERVICE, COMPOSE),
        [
            *IN_DB,
            "dropdb",
            "--no-password",
            "--if-exists",
            "--force",
            "--maintenance-db=postgres",
            "--username",
            "crm",
            "crm",
        ],
    ),
    (
        "git fetch a branch",
        lambda: git.fetch(CHECKOUT, "origin", "+refs/heads/main:refs/remotes/origin/main"),
        [
            "git",
            "-C",
            "/srv/crm",
            "fetch",
            "--",
            "origin",
            "+refs/heads/main:refs/remotes/origin/main",
        ],
    ),
    (
        "git checkout",
        lambda: git.checkout_detached(CHECKOUT, SHA),
        ["git", "-C", "/srv/crm", "checkout", "--detach", "--quiet", SHA],
    ),
    (
        "git has commit",
        lambda: git.has_commit(CHECKOUT, SHA),
        ["git", "-C", "/srv/crm", "cat-file", "-e", f"{SHA}^{{commit}}"],
    ),
    (
        "git is ancestor",
        lambda: git.is_ancestor(CHECKOUT, SHA, "refs/remotes/origin/main"),
        ["git", "-C", "/srv/crm", "merge-base", "--is-ancestor", SHA, "refs/remotes/origin/main"],
    ),
    (
        "git commit of a tag",
        lambda: git.commit_of(CHECKOUT, "refs/tags/v1.0"),
        [
            "git",
            "-C",
            "/srv/crm",
            "rev-parse",
            "--verify",
            "--end-of-options",
            "refs/tags/v1.0^{commit}",
        ],
    ),
    (
        "image tag",
        lambda: docker.tag_image("sha256:abc", "registry:5000/crm-api:deployhook-0123456789ab"),
        ["docker", "image", "tag", "sha256:abc", "registry:5000/crm-api:deployhook-0123456789ab"],
    ),
    (
        "image untag",
        lambda: docker.untag_image("crm-api:deployhook-0123456789ab"),
        ["docker", "image", "rm", "crm-api:deployhook-0123456789ab"],
    ),
    (
        "embedded redis",
        lambda: server_argv(Path("/bin/redis-server"), Path("/s/redis"), Path("/s/redis/r.sock")),
        [
            "/bin/redis-server",
            "--port",
            "0",
            "--unixsocket",
            "/s/redis/r.sock",
            "--unixsocketperm",
            "700",
            "--dir",
            "/s/redis",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            "/s/redis/redis.log",
        ],
    ),
]
# fmt: on


@pytest.mark.parametrize(("name", "build", "expected"), CASES, ids=[case[0] for case in CASES])
def test_exact_argv(name: str, build: Callable[[], list[str]], expected: list[str]) -> None:
    """The builder's argv, word for word."""
    assert build() == expected


def test_url_database_password_stays_out_of_argv() -> None:
    """A URL database's password reaches libpq through the environment, never the argv."""
    assert "pw" not in " ".join(postgres.dump(BY_URL, COMPOSE))
    assert postgres.connection_env(BY_URL) == {
        "PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "crm", "PGPASSWORD": "pw",
    }  # fmt: skip


def test_url_database_keeps_its_connection_parameters() -> None:
    """sslmode, sslrootcert and connect_timeout in a database URL reach libpq (as PG*
    variables); they were dropped, so a URL asking for TLS connected without it."""
    url = "postgresql://crm:pw@db.internal/crm?sslmode=verify-full&sslrootcert=/etc/ca.pem"
    database = Database(url=Secret(url + "&connect_timeout=5"), name="crm", user="crm")
    assert postgres.connection_env(database) == {
        "PGHOST": "db.internal", "PGPORT": "5432", "PGUSER": "crm", "PGPASSWORD": "pw",
        "PGSSLMODE": "verify-full", "PGSSLROOTCERT": "/etc/ca.pem", "PGCONNECT_TIMEOUT": "5",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://db/crm?sslmod=require", "unknown parameter sslmod"),
        ("mysql://db/crm", "must be postgresql://"),
    ],
)
def test_url_database_refuses_what_libpq_would_not_take(url: str, words: str) -> None:
    """A misspelt parameter or another scheme is a config error, not a silently plain link."""
    with pytest.raises(ValueError, match=words):
        Database(url=Secret(url), name="crm")
