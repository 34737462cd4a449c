"""An upsert target in memory, and the properties history must keep in it.

Records are applied by their key properties, the last one winning, as
target-postgres's upsert does. The checks are those the README promises for
any sequence of runs: current members equal the served list; one open stint
at most per member, none overlapping; every delivered list is the members at
its time; a member present throughout has one stint.
"""

from __future__ import annotations

import datetime
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MEMBER_KEY = ("id_or_slug", "institution_public_id", "member_id")
PERIOD_KEY = (*MEMBER_KEY, "joined_at")


@dataclass
class UpsertTarget:
    """The two member streams' tables, keyed as the tap declares them."""

    members: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    periods: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)

    def apply(self, messages: Iterable[dict[str, Any]]) -> None:
        """Upsert every RECORD of the two streams."""
        for message in messages:
            if message["type"] != "RECORD":
                continue
            record = message["record"]
            if message["stream"] == "audience_members":
                self.members[tuple(record[k] for k in MEMBER_KEY)] = record
            elif message["stream"] == "membership_periods":
                self.periods[tuple(record[k] for k in PERIOD_KEY)] = record

    def current(self, id_or_slug: str) -> set[str]:
        """Members whose row has `left_on` null (the README's query)."""
        return {
            row["member_id"]
            for row in self.members.values()
            if row["id_or_slug"] == id_or_slug and row["left_on"] is None
        }

    def stints(self, id_or_slug: str) -> dict[str, list[tuple[str, str | None]]]:
        """Each member's stints, (joined_at, left_at), in order."""
        found: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        for row in self.periods.values():
            if row["id_or_slug"] == id_or_slug:
                found[row["member_id"]].append((row["joined_at"], row["left_at"]))
        return {member: sorted(stints) for member, stints in found.items()}

    def members_at(self, id_or_slug: str, instant: str) -> set[str]:
        """Members by `joined_at <= T < coalesce(left_at, infinity)` (ISO instants)."""
        at = datetime.datetime.fromisoformat(instant)
        return {
            member
            for member, stints in self.stints(id_or_slug).items()
            if any(
                _instant(joined) <= at and (left is None or at < _instant(left))
                for joined, left in stints
            )
        }

    def assert_consistent(self, id_or_slug: str) -> None:
        """At most one open stint per member; none overlap; members rows agree."""
        stints = self.stints(id_or_slug)
        if stints:
            assert_stints_consistent(
                {
                    member: [
                        (_instant(joined), None if left is None else _instant(left))
                        for joined, left in member_stints
                    ]
                    for member, member_stints in stints.items()
                },
                self.current(id_or_slug),
            )


Stints = Mapping[str, Sequence[tuple[datetime.datetime, datetime.datetime | None]]]
"""Each member's stints, (joined_at, left_at), in order of joined_at."""


def assert_stints_consistent(stints: Stints, current: set[str]) -> None:
    """The stints a target holds can be true: none empty, none overlapping.

    At most one is open per member, and the open ones are exactly the members
    that `audience_members` says are current.
    """
    for member, member_stints in stints.items():
        open_ones = [s for s in member_stints if s[1] is None]
        assert len(open_ones) <= 1, (member, member_stints)
        for joined, left in member_stints:
            assert left is None or joined < left, (member, member_stints)
        for (_, left), (joined, _) in itertools.pairwise(member_stints):
            assert left is not None, (member, member_stints)
            assert left <= joined, (member, member_stints)
    open_members = {m for m, s in stints.items() if s[-1][1] is None}
    assert open_members == current, open_members ^ current


def _instant(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)
