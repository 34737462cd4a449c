"""One audience's delivery in this sync: decided once, sent, then committed.

`DeliveryRun` builds it right after the list was fetched and checked, before
anything about the audience is written; the streams send the records it
hands out; the run commits it once they are done, so the bookmark never
covers records that were not written.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from singer_sdk.streams import Stream

from tap_mx_audience.api import FetchedAudience
from tap_mx_audience.delivery import bookmarks, fastpath, records
from tap_mx_audience.delivery.bookmarks import Bookmark, Decision
from tap_mx_audience.delivery.records import Record
from tap_mx_audience.history.buckets import MemberBuckets
from tap_mx_audience.history.changes import (
    ChangeSet,
    History,
    record_snapshot,
    work_out_changes,
)
from tap_mx_audience.history.store import SnapshotStore
from tap_mx_audience.output.lines import escaped_block, write_record_lines
from tap_mx_audience.output.writer import BufferedSingerWriter

logger = logging.getLogger("tap-mx-audience")


@dataclass
class AudienceDelivery:
    """What this sync does with one fetched audience, and its state partition."""

    fetched: FetchedAudience
    bookmark: Bookmark
    decision: Decision
    partition_state: dict[str, Any]
    run_id: str
    members_written: bool = False
    """Set once every member record is out."""
    records_sent: int = 0
    """How many member records were sent."""
    changes: ChangeSet | None = None
    """Changes mode: who joined and left; None when every member is sent."""
    snapshot: str | None = None
    """Changes mode: the served list's snapshot, confirmed by the commit."""

    @classmethod
    def full_mode(
        cls,
        fetched: FetchedAudience,
        partition_state: dict[str, Any],
        *,
        run_id: str,
        start_date: datetime.date | None,
    ) -> AudienceDelivery:
        """Send the whole list whenever its member set is not the one delivered."""
        bookmark = Bookmark.read(partition_state)
        decision = bookmark.decide(
            fetched.summary.fingerprint,
            fetched.updated_on,
            start_date,
            unconfirmed=bookmark.delivering_run not in {None, run_id},
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
    ) -> AudienceDelivery:
        """Send who joined and who left since the snapshots the target may hold.

        Snapshots older than the confirmed one are removed: no state this
        pipeline can be given later names them. The served list's snapshot is
        in the store when this returns, before any record of the delivery.
        """
        bookmark = Bookmark.read(partition_state)
        history = History.read(store, fetched.audience, bookmark.snapshot)
        if history.confirmed is not None:
            store.prune(fetched.audience, history.confirmed.sequence)
        decision = bookmark.decide(
            fetched.summary.fingerprint,
            fetched.updated_on,
            start_date,
            unconfirmed=bool(history.unconfirmed),
            needs_snapshot=True,
        )
        delivery = cls(fetched, bookmark, decision, partition_state, run_id)
        if decision.commits:
            with MemberBuckets(fetched.body.member_batches()) as buckets:
                if decision.sends and not history.empty:
                    delivery.changes = work_out_changes(
                        store, fetched, history, buckets
                    )
                delivery.snapshot = record_snapshot(store, fetched, buckets).name
        return delivery

    @property
    def list_fingerprint(self) -> str:
        """The fingerprint the audience's current member rows carry after this sync."""
        if not self.decision.commits and self.bookmark.fingerprint is not None:
            return self.bookmark.fingerprint
        return self.fetched.summary.fingerprint

    def member_records(
        self,
        stream: Stream,
        output: BufferedSingerWriter,
        count: Callable[[int], None],
    ) -> Iterator[Record]:
        """The `audience_members` records, or none when the fast path wrote them.

        `count` adds records written past the SDK to the stream's counter.
        """
        fetched = self.fetched
        logger.info(
            "%s: updated_on %s, %d members: %s; %s",
            fetched.audience.label,
            fetched.updated_on,
            fetched.summary.member_count,
            self.decision.value,
            "sending them" if self.decision.sends else "not sending them",
        )
        if self.decision.sends and self.bookmark.is_backwards(fetched.updated_on):
            logger.warning(
                "%s: updated_on %s is older than the bookmark's %s; the served list "
                "is delivered all the same (the bookmark keeps the later date)",
                fetched.audience.label,
                fetched.updated_on,
                self.bookmark.updated_on,
            )
        if not self.decision.sends:
            return
        if self.changes is not None:
            logger.info(
                "%s: %d joined, %d left",
                fetched.audience.label,
                self.changes.joined,
                self.changes.left,
            )
            yield from self._counted(
                self._changed(records.member_template, records.member_record)
            )
        else:
            yield from self._every_member(stream, output, count)
        self.members_written = True

    def change_records(self) -> Iterator[Record]:
        """The `membership_changes` records: who joined and who left."""
        if self.snapshot is not None and self.decision.sends:
            yield from self._changed(records.change_template, records.change_record)

    def _changed(
        self,
        template_of: Callable[[FetchedAudience], Record],
        record_of: Callable[[Record, str, datetime.date | None], Record],
    ) -> Iterator[Record]:
        """One record per change; without worked-out changes every member joined."""
        template = template_of(self.fetched)
        if self.changes is not None:
            for member_id, left_on in self.changes.entries():
                yield record_of(template, member_id, left_on)
            return
        for batch in self.fetched.body.member_batches():
            for member_id in batch:
                yield record_of(template, member_id, None)

    def _counted(self, member_records: Iterator[Record]) -> Iterator[Record]:
        for record in member_records:
            self.records_sent += 1
            yield record

    def _every_member(
        self,
        stream: Stream,
        output: BufferedSingerWriter,
        count: Callable[[int], None],
    ) -> Iterator[Record]:
        """Yield member records through the SDK, or write them directly when safe."""
        label = self.fetched.audience.label
        reason = fastpath.sdk_path_reason(stream)
        if reason is not None:
            logger.info(
                "%s: members go through the SDK record pipeline (%s)", label, reason
            )
            yield from self._counted(
                self._changed(records.member_template, records.member_record)
            )
            return
        logger.info("%s: members go through the fast path", label)
        delimiter, blocks = self.fetched.body.member_blocks(escaped_block)
        self.records_sent = write_record_lines(
            output,
            stream.name,
            records.member_template(self.fetched),
            self.fetched.download.downloaded_at,
            delimiter,
            blocks,
        )
        count(self.records_sent)

    def commit(self) -> None:
        """Move the bookmark to the served list, or drop this run's mark.

        A delivery whose members were to be sent but were not (a stream map
        that filtered the audience out, say) commits nothing.
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

    def close(self) -> None:
        """Remove the worked-out changes, if any."""
        if self.changes is not None:
            self.changes.close()
