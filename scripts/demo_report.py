"""Print the demo's two answers from DuckDB: who is in each audience, who changed.

Run with the target-duckdb plugin's Python (it has duckdb):
`python scripts/demo_report.py DATABASE [ID_OR_SLUG]`.
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
CHANGES = """
SELECT change, updated_on, count(*)
FROM tap_mx_audience.membership_changes
WHERE id_or_slug = ? AND updated_on = (
    SELECT max(updated_on) FROM tap_mx_audience.membership_changes WHERE id_or_slug = ?
)
GROUP BY ALL
ORDER BY change
"""


def main() -> None:
    """Current members per audience; with a slug, also its latest joins and leaves."""
    connection = duckdb.connect(sys.argv[1], read_only=True)
    rows = connection.execute(CURRENT).fetchall()
    header = ("audience_id", "id_or_slug", "updated_on", "members")
    print("    {:<12} {:<20} {:<11} {:>8}".format(*header))
    for audience_id, slug, updated_on, members in rows:
        print(f"    {audience_id:<12} {slug:<20} {updated_on!s:<11} {members:>8}")
    if len(sys.argv) > 2:  # noqa: PLR2004 - the optional slug argument
        slug = sys.argv[2]
        print(f"    changes of {slug} in its latest list:")
        for change, updated_on, count in connection.execute(
            CHANGES, [slug, slug]
        ).fetchall():
            print(f"      {count:>4} {change} on {updated_on}")


if __name__ == "__main__":
    main()
