"""Changes mode: what the log changed after each stream's watermark, and only that.

Before anything about the audience is written, the served list is recorded
in the audience's log (history/log.py) and every file the sends need is on
local disk, checked. Each selected stream then sends what the log changed
after its own watermark: `audience_members` one row per member whose latest
stint changed, `membership_periods` one row per stint that opened or closed.
Each stream's watermark moves to the log's latest table once its records are
all out.
"""

from __future__ import annotations

import datetime
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from singer_sdk.streams import Stream
from typing_extensions import override

from tap_mx_audience.api import FetchedAudience
from tap_mx_audience.delivery import bookmarks, records
from tap_mx_audience.delivery.audience import (
    MEMBERS_STREAM,
    AudienceDelivery,
    send_groups,
)
from tap_mx_audience.delivery.bookmarks import Bookmark
from tap_mx_audience.delivery.records import Record
from tap_mx_audience.history.changes import (
    ClosedBucket,
    Stint,
    changed_members,
    changed_stints,
)
from tap_mx_audience.history.log import AudienceLog, Served
from tap_mx_audience.history.logfile import Bucket, Run
from tap_mx_audience.history.store import SnapshotStore
from tap_mx_audience.history.table import LogView, TableHeader
from tap_mx_audience.output.writer import BufferedSingerWriter
from tap_mx_audience.scratch import scratch_directory

logger = logging.getLogger("tap-mx-audience")


Changed = Callable[[Bucket, Sequence[ClosedBucket], int], Iterator[tuple[Stint, Run]]]


class ChangesDelivery(AudienceDelivery):
    """The served list, recorded in the log; each stream's changes since its mark."""

    def __init__(  # noqa: PLR0913 - the list, the streams, the log, the rules
        self,
        fetched: FetchedAudience,
        states: dict[str, dict[str, Any]],
        delivered: Bookmark,
        store: SnapshotStore,
        *,
        retention: datetime.timedelta,
        start_date: datetime.date | None,
    ) -> None:
        """Record the served list and fetch what the streams in `states` need.

        `states` holds the partition state of each selected member stream;
        `delivered` is the bookmark of the members last delivered.
        An audience updated before `start_date` is neither recorded nor sent.
        The log's work files live in the run's private scratch folder.
        """
        super().__init__(fetched)
        self._states = states
        self._delivered = delivered
        self._bookmarks = {name: Bookmark.read(state) for name, state in states.items()}
        self._since: dict[str, int] = {}
        self.view: LogView | None = None
        self._scratch: Path | None = None
        if not states or (start_date is not None and fetched.updated_on < start_date):
            return
        self._scratch = Path(tempfile.mkdtemp(prefix="log-", dir=scratch_directory()))
        log = AudienceLog(store, fetched.audience, self._scratch, retention)

        def oldest(header: TableHeader) -> int:
            self._since = {
                name: log.serve_from(header, mark.log, mark.watermark)
                for name, mark in self._bookmarks.items()
            }
            return min(self._since.values())

        summary = fetched.summary
        try:
            self.view = log.observe(
                Served(
                    summary.fingerprint,
                    fetched.updated_on,
                    fetched.download.downloaded_at,
                    fetched.body.member_id_batches,
                ),
                oldest,
            )
        except BaseException:
            self.close()
            raise
        self._log_observation(self.view)

    @property
    @override
    def list_fingerprint(self) -> str:
        if self.view is not None and MEMBERS_STREAM in self._states:
            return self.view.header.fingerprint
        return self._delivered.fingerprint or self.fetched.summary.fingerprint

    @property
    @override
    def members_changed(self) -> bool:
        view = self.view
        return view is not None and any(
            since < view.sequence for since in self._since.values()
        )

    @override
    def member_records(
        self, stream: Stream, output: BufferedSingerWriter, count: Callable[[int], None]
    ) -> Iterator[Record]:
        return self._send(
            stream, output, count, changed_members, records.latest_stint_template
        )

    @override
    def period_records(
        self, stream: Stream, output: BufferedSingerWriter, count: Callable[[int], None]
    ) -> Iterator[Record]:
        return self._send(
            stream, output, count, changed_stints, records.period_template
        )

    def _send(
        self,
        stream: Stream,
        output: BufferedSingerWriter,
        count: Callable[[int], None],
        changed: Changed,
        template: Callable[[FetchedAudience, TableHeader, Stint], Record],
    ) -> Iterator[Record]:
        view = self.view
        label = self.fetched.audience.label
        if view is None:
            logger.info(
                "%s: updated_on %s is before start_date; %s not sent",
                label,
                self.fetched.updated_on,
                stream.name,
            )
            return
        since = self._since[stream.name]
        if since >= view.sequence:
            logger.info(
                "%s: %s unchanged since table %d of its log", label, stream.name, since
            )
            self.sent[stream.name] = 0
            return
        header = view.header
        template_of = cache(lambda stint: template(self.fetched, header, stint))
        groups = (
            group
            for table, closed in view.buckets(since)
            for group in changed(table, closed, since)
        )
        sent = yield from send_groups(
            stream,
            output,
            count,
            groups,
            template_of,
            label=label,
            time_extracted=self.time_extracted,
        )
        logger.info(
            "%s: %d %s record(s) sent: what tables %d to %d of its log changed",
            label,
            sent,
            stream.name,
            since + 1,
            view.sequence,
        )
        self.sent[stream.name] = sent

    def _log_observation(self, view: LogView) -> None:
        """What this run's observation did to the log."""
        fetched = self.fetched
        if view.joined or view.left:
            what = (
                f"recorded as table {view.sequence} "
                f"({view.joined} joined, {view.left} left)"
            )
        else:
            what = f"the members of table {view.sequence}, unchanged"
        logger.info(
            "%s: updated_on %s, %d members: %s",
            fetched.audience.label,
            fetched.updated_on,
            fetched.summary.member_count,
            what,
        )

    @override
    def commit(self) -> None:
        view = self.view
        if view is None:
            return
        for name, state in self._states.items():
            if name not in self.sent:
                continue
            if name == MEMBERS_STREAM:
                bookmarks.commit(
                    state,
                    updated_on=self.fetched.updated_on,
                    fingerprint=view.header.fingerprint,
                    member_count=view.header.member_count,
                )
            bookmarks.commit_watermark(state, view.header.log, view.sequence)
            bookmarks.remember_audience_id(state, self.fetched.summary.audience_id)

    @override
    def close(self) -> None:
        """Remove the log's work files of this audience."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
