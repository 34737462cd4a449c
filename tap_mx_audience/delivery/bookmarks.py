"""Per-audience bookmarks: when to send an audience's members, and what to keep.

Full mode: the served list is the truth: an audience is sent whenever its
member set differs from the last delivered one (the fingerprint in its
bookmark), whatever its `updated_on` says; a date alone would miss a second
change on the same day and refuse a list whose date moved backwards.

Changes mode: each stream's bookmark holds a watermark, the last table of
the audience's log whose changes its target confirmed, and the log's id.

A bookmark is written only after the last record went out, and its date
never moves backwards.
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
LOG_KEY = "log"
WATERMARK_KEY = "watermark"
AUDIENCE_ID_KEY = "audience_id"
"""The audience id the API reported: tells the same audience under another key."""
# Written by an unreleased changes mode; dropped when a bookmark is committed.
_EARLIER_SNAPSHOT_KEY = "snapshot"
# Full mode: the id of a run that may have sent part of this audience and not
# confirmed it; a later run must send it again even if the list looks unchanged.
DELIVERING_RUN_KEY = "delivering"
_SDK_PROGRESS_KEY = "progress_markers"


class Decision(Enum):
    """What to do with one audience's members this sync, and why."""

    SEND_FIRST = "no bookmark yet"
    SEND_NO_FINGERPRINT = (
        "the bookmark has a date but no fingerprint, so whether the members "
        "changed is unknown"
    )
    SEND_CHANGED = "the member set changed since the bookmark"
    SEND_INTERRUPTED = "an earlier run stopped before confirming its delivery"
    SKIP_UNCHANGED = "unchanged since the bookmark"
    SKIP_BEFORE_START = "updated before start_date"

    @property
    def sends(self) -> bool:
        """Whether member records are sent."""
        return self.name.startswith("SEND")

    @property
    def commits(self) -> bool:
        """Whether the bookmark moves to the served list."""
        return self.sends


@dataclass(frozen=True)
class Bookmark:
    """The last delivered state of one audience, as read from a state partition."""

    updated_on: datetime.date | None
    fingerprint: str | None
    delivering_run: str | None
    log: str | None
    watermark: int | None

    @classmethod
    def read(cls, partition_state: dict[str, Any]) -> Bookmark:
        """Read the committed values; a cut-short run's progress markers are ignored."""
        return cls(
            updated_on=leading_date(partition_state.get("replication_key_value")),
            fingerprint=_text(partition_state.get(FINGERPRINT_KEY)),
            delivering_run=_text(partition_state.get(DELIVERING_RUN_KEY)),
            log=_text(partition_state.get(LOG_KEY)),
            watermark=_watermark(partition_state.get(WATERMARK_KEY)),
        )

    def decide(
        self,
        fingerprint: str,
        updated_on: datetime.date,
        start_date: datetime.date | None,
        *,
        unconfirmed: bool,
    ) -> Decision:
        """Full mode: send unless the served member set is the one last delivered.

        `unconfirmed`: some earlier delivery may have been applied in part (a
        delivering mark from another run).
        """
        if start_date is not None and updated_on < start_date:
            return Decision.SKIP_BEFORE_START
        if self.fingerprint is None:
            if self.updated_on is None:
                return Decision.SEND_FIRST
            return Decision.SEND_NO_FINGERPRINT
        if fingerprint != self.fingerprint:
            return Decision.SEND_CHANGED
        if unconfirmed:
            return Decision.SEND_INTERRUPTED
        return Decision.SKIP_UNCHANGED

    def is_backwards(self, updated_on: datetime.date) -> bool:
        """Whether a served date is older than the bookmark's."""
        return self.updated_on is not None and updated_on < self.updated_on


def mark_delivering(partition_state: dict[str, Any], run_id: str) -> bool:
    """Record, before any of this run's records, that this run may send here.

    Only a delivered audience needs the mark (without a bookmark everything is
    sent anyway). A mark left by an earlier run is kept: that run's records may
    still be in the target, unconfirmed. True if a mark was added.
    """
    if FINGERPRINT_KEY not in partition_state or DELIVERING_RUN_KEY in partition_state:
        return False
    partition_state[DELIVERING_RUN_KEY] = run_id
    return True


def clear_own_mark(partition_state: dict[str, Any], run_id: str) -> None:
    """Drop this run's in-flight mark where it sent nothing."""
    if partition_state.get(DELIVERING_RUN_KEY) == run_id:
        del partition_state[DELIVERING_RUN_KEY]


def commit(
    partition_state: dict[str, Any],
    *,
    updated_on: datetime.date,
    fingerprint: str,
    member_count: int,
) -> None:
    """Record a delivered audience; the date never moves backwards.

    The SDK's progress markers for it go: singer-sdk would promote them to the
    bookmark at the end of the sync, even where they are lower.
    """
    kept = leading_date(partition_state.get("replication_key_value"))
    partition_state.pop(_SDK_PROGRESS_KEY, None)
    partition_state.pop(DELIVERING_RUN_KEY, None)
    partition_state["replication_key"] = REPLICATION_KEY
    partition_state["replication_key_value"] = max(
        updated_on, kept or updated_on
    ).isoformat()
    partition_state[FINGERPRINT_KEY] = fingerprint
    partition_state[MEMBER_COUNT_KEY] = member_count
    partition_state.pop(_EARLIER_SNAPSHOT_KEY, None)


def remember_audience_id(
    partition_state: dict[str, Any], audience_id: str | None
) -> None:
    """Keep the audience id the API reported, where it reported one."""
    if audience_id is not None:
        partition_state[AUDIENCE_ID_KEY] = audience_id


def reported_audience_id(partition_state: dict[str, Any]) -> str | None:
    """The audience id the API reported when this bookmark was committed, if any."""
    return _text(partition_state.get(AUDIENCE_ID_KEY))


def commit_watermark(partition_state: dict[str, Any], log: str, watermark: int) -> None:
    """Changes mode: the stream's target holds the log's changes up to `watermark`."""
    partition_state.pop(_EARLIER_SNAPSHOT_KEY, None)
    partition_state[LOG_KEY] = log
    partition_state[WATERMARK_KEY] = watermark


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _watermark(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
