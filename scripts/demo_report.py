"""Print the demo's answers from DuckDB: who is in each audience; who joined or left.

Run with the target-duckdb plugin's Python (it has duckdb):
`python scripts/demo_report.py DATABASE` for current members per audience, or
`python scripts/demo_report.py DATABASE ID_OR_SLUG` for that audience's
history: a member whose stint closed and who came back (two stints), and the
point-in-time query at the audience's first list and now.
"""

from __future__ import annotations

import sys

import duckdb

CURRENT = """
SELECT a.audience_id, a.id_or_slug, a.updated_on, count(m.member_id)
FROM tap_mx_audience.audiences AS a
LEFT JOIN tap_mx_audience.audience_members AS m
  ON m.id_or_slug = a.id_or_slug
 AND m.institution_public_id = a.institution_public_id
 AND m.left_on IS NULL
GROUP BY ALL
ORDER BY a.audience_id
"""
RETURNED = """
SELECT member_id
FROM tap_mx_audience.membership_periods
WHERE id_or_slug = $slug AND institution_public_id = $institution
GROUP BY member_id
HAVING count(*) > 1
ORDER BY member_id
LIMIT 1
"""
STINTS = """
SELECT joined_at, joined_on, left_at, left_on
FROM tap_mx_audience.membership_periods
WHERE id_or_slug = $slug AND institution_public_id = $institution
  AND member_id = $member
ORDER BY joined_at
"""
POINT_IN_TIME = """
SELECT count(*)
FROM tap_mx_audience.membership_periods AS p
WHERE p.id_or_slug = $slug
  AND p.institution_public_id = $institution
  AND p.joined_at <= $at
  AND (p.left_at IS NULL OR p.left_at > $at)
"""
FIRST_LIST = """
SELECT min(joined_at), max(coalesce(left_at, joined_at))
FROM tap_mx_audience.membership_periods
WHERE id_or_slug = $slug AND institution_public_id = $institution
"""
INSTITUTION = "INST_DEMO"


def current(connection: duckdb.DuckDBPyConnection) -> None:
    """Current members per audience (changes mode: rows with left_on null)."""
    header = ("audience_id", "id_or_slug", "updated_on", "members")
    print("    {:<12} {:<20} {:<11} {:>8}".format(*header))
    for audience_id, slug, updated_on, members in connection.execute(
        CURRENT
    ).fetchall():
        print(f"    {audience_id:<12} {slug:<20} {updated_on!s:<11} {members:>8}")


def history(connection: duckdb.DuckDBPyConnection, slug: str) -> None:
    """One member's two stints, and the members at two points in time."""
    where = {"slug": slug, "institution": INSTITUTION}
    (member,) = connection.execute(RETURNED, where).fetchone() or (None,)
    if member is None:
        print(f"    no member of {slug} has left and come back yet")
        return
    print(f"    member {member} of {slug}, stint by stint (membership_periods):")
    for joined_at, joined_on, left_at, left_on in connection.execute(
        STINTS, {**where, "member": member}
    ).fetchall():
        until = "still in" if left_at is None else f"left {left_at} ({left_on})"
        print(f"      joined {joined_at} ({joined_on}), {until}")
    first, last = connection.execute(FIRST_LIST, where).fetchone() or (None, None)
    print("    members at a point in time:" + POINT_IN_TIME.replace("\n", "\n      "))
    for label, at in (("the first list", first), ("the latest list", last)):
        (count,) = connection.execute(
            POINT_IN_TIME, {**where, "at": at}
        ).fetchone() or (0,)
        print(f"      at {at} ({label}): {count} members")


def main() -> None:
    """Current members; with a slug, that audience's history."""
    connection = duckdb.connect(sys.argv[1], read_only=True)
    if len(sys.argv) > 2:  # noqa: PLR2004 - the optional slug argument
        history(connection, sys.argv[2])
    else:
        current(connection)


if __name__ == "__main__":
    main()
