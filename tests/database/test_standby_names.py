"""The standby restore's pure parts: database names within PostgreSQL's limit, and the live
database's properties as psql prints them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.model import Database
from jobs.commands.postgres import DatabaseProperties as Props
from jobs.database.standby import NAME_LIMIT, kept_name, standby_name

AT = datetime(2026, 3, 12, 14, 17, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "standby", "kept"),
    [
        ("crm", "crm__dh_standby", "crm__dh_kept_20260312T141720"),
        ("Main-DB$1", "Main-DB$1__dh_standby", "Main-DB$1__dh_kept_20260312T141720"),
        ("x" * 63, "x" * 51 + "__dh_standby", "x" * 38 + "__dh_kept_20260312T141720"),
    ],
)
def test_names_fit_postgres_identifiers(name: str, standby: str, kept: str) -> None:
    """Standby and kept names derive from the database's and never pass 63 bytes."""
    database = Database(service="postgres", name=name, user="crm")
    assert standby_name(database) == standby and len(standby) <= NAME_LIMIT
    assert kept_name(database, AT) == kept and len(kept) <= NAME_LIMIT


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("UTF8|C.UTF-8|C.UTF-8|c||app\n", Props("UTF8", "C.UTF-8", "C.UTF-8", "c", "", "app")),
        ("notice\nUTF8|und|und|i|und-x-icu|crm\n", Props("UTF8", "und", "und", "i", "und-x-icu", "crm")),  # noqa: E501
        ("SQL_ASCII|C|C|||owners", Props("SQL_ASCII", "C", "C", "", "", "owners")),
    ],
)  # fmt: skip
def test_properties_parse_the_last_line(output: str, expected: Props) -> None:
    """The last non-empty line holds the six fields; a server before 15 leaves two empty."""
    assert Props.parse(output) == expected


@pytest.mark.parametrize("output", ["", "UTF8|C|C|c|", "|C|C|c||app", "UTF8|C|C|c||"])
def test_properties_refuse_anything_else(output: str) -> None:
    """Anything but six fields with encoding, collation, ctype and owner is an error."""
    with pytest.raises(ValueError, match="expected encoding"):
        Props.parse(output)
