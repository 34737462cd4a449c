"""One audience's rows in PostgreSQL, read with the README's queries.

The e2e tests check what a user would query: each answer comes from the
README's own SQL, for one audience (`id_or_slug` and `institution_public_id`)
in one loader's schema. target-postgres creates the `_at` columns as
`timestamp without time zone`; the loader writes them in UTC (see
`PostgresCluster.create_loader_database`), so they are read back as UTC.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tests.support.meltano_support import readme_query
from tests.support.upsert import Stints, assert_stints_consistent

POINT_IN_TIME = "2026-11-28 09:00:00"
"""The instant the README's point-in-time query names."""
WINDOW = ("2026-11-21 00:00:00", "2026-11-28 00:00:00")
"""The window the README's joined and left queries name."""


@dataclass(frozen=True)
class LoadedAudience:
    """One configured audience as one loader's schema holds it."""

    connection: psycopg.Connection[Any]
    schema: str
    id_or_slug: str
    institution: str

    def _readme(
        self, first_line: str, instants: dict[str, datetime.datetime] | None = None
    ) -> list[tuple[Any, ...]]:
        query = readme_query(
            first_line,
            schema=self.schema,
            id_or_slug=self.id_or_slug,
            institution=self.institution,
            instants=instants,
        )
        return self.connection.execute(query.encode()).fetchall()

    def current(self) -> set[str]:
        """Changes mode: the README's current members."""
        return {row[0] for row in self._readme("-- Changes mode: current members")}

    def current_full(self) -> set[str]:
        """Full mode: the README's current members."""
        return {row[0] for row in self._readme("-- Full mode: current members")}

    def members_at(self, at: datetime.datetime) -> set[str]:
        """The README's members at a point in time."""
        rows = self._readme("-- Changes mode: members of audience", {POINT_IN_TIME: at})
        return {row[0] for row in rows}

    def joined(
        self, start: datetime.datetime, end: datetime.datetime
    ) -> list[tuple[str, datetime.datetime, datetime.date]]:
        """The README's who joined in [start, end): member, joined_at, joined_on."""
        rows = self._readme("-- Changes mode: who joined", _window(start, end))
        return [(row[0], _utc(row[1]), row[2]) for row in rows]

    def left(
        self, start: datetime.datetime, end: datetime.datetime
    ) -> list[tuple[str, datetime.datetime, datetime.date]]:
        """The README's who left in [start, end): member, left_at, left_on."""
        rows = self._readme("-- Changes mode: who left", _window(start, end))
        return [(row[0], _utc(row[1]), row[2]) for row in rows]

    def stints(self) -> Stints:
        """Each member's rows of `membership_periods`, (joined_at, left_at) in order."""
        rows = self.connection.execute(
            sql.SQL(
                "SELECT member_id, joined_at, left_at FROM {}.membership_periods"
                " WHERE id_or_slug = %s AND institution_public_id = %s"
                " ORDER BY member_id, joined_at"
            ).format(sql.Identifier(self.schema)),
            (self.id_or_slug, self.institution),
        ).fetchall()
        found: dict[str, list[tuple[datetime.datetime, datetime.datetime | None]]]
        found = defaultdict(list)
        for member, joined, left in rows:
            found[member].append((_utc(joined), None if left is None else _utc(left)))
        return found

    def fetched_at(self) -> datetime.datetime:
        """When the last run whose `audiences` row was loaded fetched the list."""
        row = self.connection.execute(
            sql.SQL(
                "SELECT fetched_at FROM {}.audiences"
                " WHERE id_or_slug = %s AND institution_public_id = %s"
            ).format(sql.Identifier(self.schema)),
            (self.id_or_slug, self.institution),
        ).fetchone()
        assert row is not None, (self.schema, self.id_or_slug, self.institution)
        return _utc(row[0])

    def assert_history_consistent(self) -> None:
        """Stints none empty or overlapping, one open at most, the open ones current."""
        assert_stints_consistent(self.stints(), self.current())


def _window(
    start: datetime.datetime, end: datetime.datetime
) -> dict[str, datetime.datetime]:
    return {WINDOW[0]: start, WINDOW[1]: end}


def _utc(value: datetime.datetime) -> datetime.datetime:
    """A `timestamp without time zone` the loader wrote in UTC, as an aware instant."""
    assert value.tzinfo is None, value
    return value.replace(tzinfo=datetime.UTC)
