"""One audience's delivery in this sync: decided once, sent by the streams, committed.

The `audiences` stream builds the plan right after the list was fetched and
checked, before anything about the audience is written; the child streams
send what it says; the parent commits it once they are done, so the bookmark
never covers records that were not written.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tap_mx_audience.api import FetchedAudience
from tap_mx_audience.delivery import bookmarks
from tap_mx_audience.delivery.bookmarks import Bookmark, Decision
from tap_mx_audience.delivery.buckets import BucketedList
from tap_mx_audience.delivery.changes import (
    ChangeSet,
    History,
    snapshot_of,
    work_out_changes,
)
from tap_mx_audience.delivery.snapshots import SnapshotStore


@dataclass(repr=False)
class DeliveryPlan:
    """What this sync does with one fetched audience, and its state partition."""

    fetched: FetchedAudience
    bookmark: Bookmark
    decision: Decision
    partition_state: dict[str, Any]
    run_id: str
    members_written: bool = False
    """Set by `audience_members` once every member record is out."""
    records_sent: int = 0
    """How many member records `audience_members` sent."""
    changes: ChangeSet | None = None
    """Changes mode: who joined and left; None when every member is sent."""
    snapshot: str | None = None
    """Changes mode: the served list's snapshot, confirmed by the commit."""

    def __repr__(self) -> str:
        """Short, because singer-sdk logs stream contexts in its metrics."""
        return f"<delivery of {self.fetched.audience.label}: {self.decision.name}>"

    @classmethod
    def full_mode(
        cls,
        fetched: FetchedAudience,
        partition_state: dict[str, Any],
        *,
        run_id: str,
        start_date: datetime.date | None,
    ) -> DeliveryPlan:
        """Send the whole list whenever its member set is not the one delivered."""
        bookmark = Bookmark.read(partition_state)
        decision = bookmark.decide(
            fetched.summary.fingerprint,
            fetched.updated_on,
            start_date,
            unconfirmed=bookmark.in_flight not in {None, run_id},
            needs_snapshot=False,
        )
        return cls(fetched, bookmark, decision, partition_state, run_id)

    @classmethod
    def changes_mode(
        cls,
        fetched: FetchedAudience,
        partition_state: dict[str, Any],
        *,
        store: SnapshotStore,
        run_id: str,
        start_date: datetime.date | None,
    ) -> DeliveryPlan:
        """Send who joined and who left since the snapshots the target may hold.

        The served list's snapshot is in the store when this returns, before
        any record of the delivery.
        """
        bookmark = Bookmark.read(partition_state)
        history = History.look_up(store, fetched, bookmark)
        decision = bookmark.decide(
            fetched.summary.fingerprint,
            fetched.updated_on,
            start_date,
            unconfirmed=bool(history.unconfirmed),
            needs_snapshot=True,
        )
        plan = cls(fetched, bookmark, decision, partition_state, run_id)
        if decision.commits:
            with BucketedList(fetched.body.member_batches()) as bucketed:
                if decision.sends and not history.empty:
                    plan.changes = work_out_changes(store, fetched, history, bucketed)
                plan.snapshot = snapshot_of(store, fetched, bucketed).name
        return plan

    @property
    def list_fingerprint(self) -> str:
        """The fingerprint the audience's current member rows carry after this sync."""
        if not self.decision.commits and self.bookmark.fingerprint is not None:
            return self.bookmark.fingerprint
        return self.fetched.summary.fingerprint

    @property
    def goes_backwards(self) -> bool:
        """Whether a list is sent although its date is older than the bookmark's."""
        return self.decision.sends and self.bookmark.is_backwards(
            self.fetched.updated_on
        )

    def member_template(self) -> dict[str, Any]:
        """Every field of a member record but `member_id`, in schema order."""
        fetched = self.fetched
        return {
            **fetched.audience_fields(),
            "member_id": None,
            "updated_on": fetched.updated_on.isoformat(),
            "list_fingerprint": fetched.summary.fingerprint,
            "left_on": None,
            "_sdc_deleted_at": None,
        }

    def commit(self) -> None:
        """Move the bookmark to the served list, or drop this run's mark.

        A plan whose members were to be sent but were not (a stream map that
        filtered the audience out, say) commits nothing.
        """
        if not self.decision.commits or (
            self.decision.sends and not self.members_written
        ):
            bookmarks.clear_own_mark(self.partition_state, self.run_id)
            return
        summary = self.fetched.summary
        bookmarks.commit(
            self.partition_state,
            updated_on=self.fetched.updated_on,
            fingerprint=summary.fingerprint,
            member_count=summary.member_count,
            snapshot=self.snapshot,
        )

    def changed_members(self) -> Iterator[tuple[str, datetime.date | None]]:
        """Each change: the member, and the date they left (None: joined).

        Without worked-out changes (a first delivery) every member joined.
        """
        if self.changes is not None:
            yield from self.changes.entries()
            return
        for batch in self.fetched.body.member_batches():
            for member_id in batch:
                yield member_id, None

    def close(self) -> None:
        """Remove the worked-out changes, if any."""
        if self.changes is not None:
            self.changes.close()
