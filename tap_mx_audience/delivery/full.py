"""Full mode: the whole list, whenever its member set is not the one delivered.

Every member record carries the list's fingerprint; the `audiences` row
carries the fingerprint of the list whose members were last delivered, so
the current members are the member rows carrying their audience's.
`membership_periods` is not synced in this mode (there is no log to build
stints from).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Generator, Iterator
from typing import Any

from singer_sdk.streams import Stream
from typing_extensions import override

from tap_mx_audience.api import FetchedAudience
from tap_mx_audience.delivery import bookmarks, fastpath, records
from tap_mx_audience.delivery.audience import MEMBERS_STREAM, AudienceDelivery
from tap_mx_audience.delivery.bookmarks import Bookmark
from tap_mx_audience.delivery.records import Record
from tap_mx_audience.output.lines import RecordLines, escaped_block
from tap_mx_audience.output.writer import BufferedSingerWriter

logger = logging.getLogger("tap-mx-audience")


class FullDelivery(AudienceDelivery):
    """The served list against the bookmark of the members last delivered."""

    def __init__(
        self,
        fetched: FetchedAudience,
        members_state: dict[str, Any] | None,
        delivered: Bookmark,
        *,
        run_id: str,
        start_date: datetime.date | None,
    ) -> None:
        """Decide from the bookmark of the members last delivered: all, or nothing.

        `members_state` is the stream's partition when it is selected.
        """
        super().__init__(fetched)
        self._members_state = members_state
        self._run_id = run_id
        self._bookmark = delivered
        self.decision = self._bookmark.decide(
            fetched.summary.fingerprint,
            fetched.updated_on,
            start_date,
            unconfirmed=self._bookmark.delivering_run not in {None, run_id},
        )

    @property
    @override
    def list_fingerprint(self) -> str:
        if self.members_changed or self._bookmark.fingerprint is None:
            return self.fetched.summary.fingerprint
        return self._bookmark.fingerprint

    @property
    @override
    def members_changed(self) -> bool:
        return self._members_state is not None and self.decision.sends

    @override
    def member_records(
        self, stream: Stream, output: BufferedSingerWriter, count: Callable[[int], None]
    ) -> Iterator[Record]:
        fetched = self.fetched
        logger.info(
            "%s: updated_on %s, %d members: %s; %s",
            fetched.audience.label,
            fetched.updated_on,
            fetched.summary.member_count,
            self.decision.value,
            "sending them" if self.decision.sends else "not sending them",
        )
        if self.decision.sends and self._bookmark.is_backwards(fetched.updated_on):
            logger.warning(
                "%s: updated_on %s is older than the bookmark's %s; the served list "
                "is delivered all the same (the bookmark keeps the later date)",
                fetched.audience.label,
                fetched.updated_on,
                self._bookmark.updated_on,
            )
        if self.decision.sends:
            sent = yield from self._every_member(stream, output, count)
            self.sent[stream.name] = sent

    @override
    def period_records(
        self, stream: Stream, output: BufferedSingerWriter, count: Callable[[int], None]
    ) -> Iterator[Record]:
        return iter(())

    def _every_member(
        self, stream: Stream, output: BufferedSingerWriter, count: Callable[[int], None]
    ) -> Generator[Record, None, int]:
        """Yield member records through the SDK, or write them directly when safe."""
        label = self.fetched.audience.label
        template = records.member_template(self.fetched)
        reason = fastpath.sdk_path_reason(stream)
        if reason is not None:
            logger.info(
                "%s: members go through the SDK record pipeline (%s)", label, reason
            )
            sent = 0
            for batch in self.fetched.body.member_batches():
                for member in batch:
                    yield records.with_member(template, member)
                sent += len(batch)
            return sent
        logger.info("%s: members go through the fast path", label)
        delimiter, blocks = self.fetched.body.member_blocks(escaped_block)
        lines = RecordLines(stream.name, template, self.time_extracted)
        sent = lines.write(output, delimiter, blocks)
        count(sent)
        return sent

    @override
    def commit(self) -> None:
        """Move the bookmark to the served list, or drop this run's mark.

        A delivery whose members were to be sent but were not (a stream map
        that filtered the audience out, say) commits nothing.
        """
        state = self._members_state
        if state is None:
            return
        if not self.decision.commits or MEMBERS_STREAM not in self.sent:
            bookmarks.clear_own_mark(state, self._run_id)
            return
        summary = self.fetched.summary
        bookmarks.commit(
            state,
            updated_on=self.fetched.updated_on,
            fingerprint=summary.fingerprint,
            member_count=summary.member_count,
        )
        bookmarks.remember_audience_id(state, summary.audience_id)
