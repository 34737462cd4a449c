"""Per-audience bookmarks: when to send an audience's members, and what to keep.

`updated_on` is only a date, so a second change on the same day would be lost
by a date alone: the bookmark also keeps a fingerprint of the member set. The
bookmark is written only after the last member record went out, and never
moves backwards.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import Enum
from typing import Any

from tap_mx_audience.dates import leading_date

REPLICATION_KEY = "updated_on"
FINGERPRINT_KEY = "fingerprint"
MEMBER_COUNT_KEY = "member_count"


class Decision(Enum):
    """What to do with one audience's members this sync, and why."""

    SEND = "changed since the bookmark"
    SKIP_OLDER = "older than the bookmark"
    SKIP_UNCHANGED = "unchanged since the bookmark"
    SKIP_BEFORE_START = "updated before start_date"

    @property
    def sends(self) -> bool:
        """Whether the members are sent."""
        return self is Decision.SEND


@dataclass(frozen=True)
class Bookmark:
    """The last delivered state of one audience, as read from a state partition."""

    updated_on: datetime.date | None
    fingerprint: str | None

    @classmethod
    def read(cls, partition_state: dict[str, Any]) -> Bookmark:
        """Read the committed values; a cut-short run's progress markers are ignored."""
        updated_on = leading_date(partition_state.get("replication_key_value"))
        fingerprint = partition_state.get(FINGERPRINT_KEY)
        return cls(updated_on, fingerprint if isinstance(fingerprint, str) else None)

    def decide(
        self,
        updated_on: datetime.date,
        fingerprint: str,
        start_date: datetime.date | None,
    ) -> Decision:
        """Send unless the list is older, or the same date and the same members."""
        if start_date is not None and updated_on < start_date:
            return Decision.SKIP_BEFORE_START
        if self.updated_on is None or updated_on > self.updated_on:
            return Decision.SEND
        if updated_on < self.updated_on:
            return Decision.SKIP_OLDER
        if fingerprint == self.fingerprint:
            return Decision.SKIP_UNCHANGED
        return Decision.SEND


def commit(
    partition_state: dict[str, Any],
    updated_on: datetime.date,
    fingerprint: str,
    member_count: int,
) -> None:
    """Record a delivered audience (`decide` never sends an older list).

    The SDK's progress markers for it go: singer-sdk would promote them to the
    bookmark at the end of the sync, even where they are lower.
    """
    partition_state.pop("progress_markers", None)
    partition_state["replication_key"] = REPLICATION_KEY
    partition_state["replication_key_value"] = updated_on.isoformat()
    partition_state[FINGERPRINT_KEY] = fingerprint
    partition_state[MEMBER_COUNT_KEY] = member_count
