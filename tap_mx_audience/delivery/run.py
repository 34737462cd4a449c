"""One sync's deliveries: fetch, decide, send and commit each audience.

The streams only declare themselves and ask this module for their records.
For each configured audience, `deliver` fetches the checked list (downloaded
ahead by the fetcher), decides what to send (full mode from the bookmark;
changes mode from the audience's log, which it extends first), hands out the
`audiences` record while the child streams send theirs, then commits the
bookmarks and emits the state. The delivery being sent is held here, never
in the SDK's stream context; each stream's state is read and written here on
that stream's behalf, never by another stream.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import Any

from singer_sdk.streams import Stream

from tap_mx_audience.api import AudienceFetcher, FetchedAudience, MxApiClient
from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.delivery import bookmarks, records
from tap_mx_audience.delivery.audience import AudienceDelivery
from tap_mx_audience.delivery.bookmarks import Bookmark
from tap_mx_audience.delivery.changes import ChangesDelivery
from tap_mx_audience.delivery.full import FullDelivery
from tap_mx_audience.delivery.records import Record
from tap_mx_audience.delivery.summary import RunSummary
from tap_mx_audience.errors import (
    AudienceFailedError,
    SyncIncompleteError,
    TapMxAudienceError,
)
from tap_mx_audience.history.store import SnapshotStore
from tap_mx_audience.output.statewriter import ThrottledStateWriter
from tap_mx_audience.output.writer import BufferedSingerWriter
from tap_mx_audience.settings import Settings

logger = logging.getLogger("tap-mx-audience")


class DeliveryRun:
    """Settings, the API client, the fetcher, the writer, and each audience's delivery.

    Everything is built on first use, so discovery and `--about` never need a
    valid config.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        output: BufferedSingerWriter,
        log_failure: Callable[[AudienceFailedError], None],
    ) -> None:
        """Keep what the services are built from; nothing is delivered yet."""
        self._config = config
        self.output = output
        self._log_failure = log_failure
        self.failures: list[AudienceFailedError] = []
        self.summary = RunSummary()
        self.state_writer = ThrottledStateWriter(output)
        self.run_id = datetime.datetime.now(datetime.UTC).isoformat()
        self.members_stream: Stream | None = None
        self.periods_stream: Stream | None = None
        """The child streams, whose bookmarks decide what each is sent."""
        self._reported_ids: dict[tuple[str, str], AudienceRef] = {}
        self._current: AudienceDelivery | None = None
        self._deselected_members: dict[tuple[str, str], dict[str, Any]] | None = None
        self._earlier_keys: dict[tuple[str, str], str] | None = None
        self._started = False

    @cached_property
    def settings(self) -> Settings:
        """The validated settings."""
        return Settings.from_config(self._config)

    @cached_property
    def client(self) -> MxApiClient:
        """The MX API client, with its token, for this sync."""
        return MxApiClient(self.settings)

    @cached_property
    def snapshot_store(self) -> SnapshotStore | None:
        """Changes mode's store of delivered member sets; None in full mode."""
        settings = self.settings
        if settings.snapshot_store is None:
            return None
        return SnapshotStore(settings.snapshot_store, settings.snapshot_store_options)

    @cached_property
    def fetcher(self) -> AudienceFetcher:
        """Downloads the lists, ahead of the stream, for this sync."""
        return AudienceFetcher(self.client, self.settings)

    def deliver(self, audience: AudienceRef) -> Iterator[Record]:
        """The audience's `audiences` record; its child streams send theirs meanwhile.

        singer-sdk syncs the child streams while this generator is suspended
        at its `yield`; what follows the yield runs once they are done.
        """
        if not self._started:
            self._mark_delivering()
        try:
            # While waiting on a slow download, the state held back by the
            # throttle goes out: the wait costs nothing more.
            fetched = self.fetcher.fetch(audience, on_long_wait=self.state_writer.idle)
        except AudienceFailedError as failure:
            self._fail(audience, failure)
            return
        self.summary.fetched(fetched.download.size)
        if (earlier := self._same_audience_configured_before(fetched)) is not None:
            fetched.close()
            reason = (
                f"is the same audience as {earlier.label} (the API reports "
                f"audience_id '{fetched.audience_id}' for both); configure it once"
            )
            self._fail(audience, AudienceFailedError(audience, reason))
            return
        self._forget_earlier_key(fetched)
        try:
            yield from self._deliver(fetched)
        finally:
            self._current = None
            fetched.close()
            # Out before waiting on the next download, not held in the buffer.
            self.output.flush()

    def member_records(
        self, stream: Stream, audience: AudienceRef, count: Callable[[int], None]
    ) -> Iterator[Record]:
        """The `audience_members` records of the audience being delivered.

        `count` adds the records the fast path writes to the stream's counter.
        """
        return self._delivery_of(audience).member_records(stream, self.output, count)

    def period_records(
        self, stream: Stream, audience: AudienceRef, count: Callable[[int], None]
    ) -> Iterator[Record]:
        """The `membership_periods` records of the audience being delivered."""
        return self._delivery_of(audience).period_records(stream, self.output, count)

    def _delivery_of(self, audience: AudienceRef) -> AudienceDelivery:
        delivery = self._current
        if delivery is None or delivery.fetched.audience != audience:
            msg = f"{audience.label} is not being delivered"
            raise RuntimeError(msg)
        return delivery

    def _deliver(self, fetched: FetchedAudience) -> Iterator[Record]:
        try:
            delivery = self._decide(fetched)
        except TapMxAudienceError as exc:
            self._fail(
                fetched.audience, AudienceFailedError(fetched.audience, str(exc))
            )
            return
        self._current = delivery
        try:
            self.summary.sent("audiences", 1)
            yield records.summary_record(fetched, delivery.list_fingerprint)
        finally:
            delivery.close()
        # The children have run: what they wrote is out, the bookmarks may follow.
        delivery.commit()
        self.summary.add(delivery)
        self.state_writer.write_state(self._state_stream().tap_state)

    def _decide(self, fetched: FetchedAudience) -> AudienceDelivery:
        settings, store = self.settings, self.snapshot_store
        members, periods = (
            self._selected(self.members_stream),
            self._selected(self.periods_stream),
        )
        context = fetched.audience.context
        delivered = self._members_last_delivered(fetched.audience)
        if store is None:
            return FullDelivery(
                fetched,
                None if members is None else members.get_context_state(context),
                delivered,
                run_id=self.run_id,
                start_date=settings.start_date,
            )
        return ChangesDelivery(
            fetched,
            {
                stream.name: stream.get_context_state(context)
                for stream in (members, periods)
                if stream is not None
            },
            delivered,
            store,
            retention=datetime.timedelta(days=settings.history_retention_days),
            start_date=settings.start_date,
        )

    def _members_last_delivered(self, audience: AudienceRef) -> Bookmark:
        """The `audience_members` bookmark, whether or not the stream is selected.

        It says which members the target holds as current, which the
        `audiences` row's list_fingerprint must keep saying. A deselected
        stream's state is only read (indexed once), never given partitions.
        """
        members = self.members_stream
        assert members is not None  # noqa: S101 - discovery registers it
        if members.selected:
            return Bookmark.read(members.get_context_state(audience.context))
        if self._deselected_members is None:
            self._deselected_members = {_key(p): p for p in _partitions(members)}
        return Bookmark.read(self._deselected_members.get(audience.context_key, {}))

    def _mark_delivering(self) -> None:
        """Full mode: mark each audience as being delivered, in a STATE before records.

        A run stopped midway leaves its marks: the next run then re-sends those
        audiences even if their lists look unchanged, because the target may
        hold part of this run's records (full mode has nothing else to tell).
        Changes mode needs no mark: the log is ahead of every target.
        """
        self._started = True
        members = self._selected(self.members_stream)
        if members is None or self.settings.snapshot_store is not None:
            return
        marked = [
            bookmarks.mark_delivering(
                members.get_context_state(audience.context), self.run_id
            )
            for audience in self.settings.audiences
        ]
        if any(marked):
            self.state_writer.write_state(members.tap_state)
            self.state_writer.flush()

    def _same_audience_configured_before(
        self, fetched: FetchedAudience
    ) -> AudienceRef | None:
        """An earlier configured audience the API reports with the same id, if any.

        One audience configured twice (once by slug, once by id) would be
        delivered twice under two keys; the body's `audience_id` reveals it.
        """
        reported = fetched.summary.audience_id
        if reported is None:
            return None
        institution = (
            fetched.summary.institution_id or fetched.audience.institution_public_id
        )
        first = self._reported_ids.setdefault((reported, institution), fetched.audience)
        return None if first == fetched.audience else first

    def _forget_earlier_key(self, fetched: FetchedAudience) -> None:
        """Say so when an audience was configured before under another key.

        Switching `id_or_slug` from an audience's slug to its id (or back)
        makes a new key; the rows under the old one stay in the target, no
        longer updated. The body's `audience_id` reveals it wherever a
        bookmark of an audience no longer configured reported the same id.
        Its bookmarks are dropped, so the line comes once.
        """
        reported = fetched.summary.audience_id
        institution = fetched.audience.institution_public_id
        if reported is None:
            return
        streams = [s for s in (self.members_stream, self.periods_stream) if s]
        if self._earlier_keys is None:
            configured = {a.context_key for a in self.settings.audiences}
            self._earlier_keys = {}
            for stream in streams:
                for partition in _partitions(stream):
                    id_or_slug, institution_public_id = key = _key(partition)
                    mark = bookmarks.reported_audience_id(partition)
                    if key not in configured and mark is not None:
                        self._earlier_keys[(mark, institution_public_id)] = id_or_slug
        earlier = self._earlier_keys.pop((reported, institution), None)
        if earlier is None or earlier == fetched.audience.id_or_slug:
            return
        logger.warning(
            "%s is the audience configured before as '%s' (the API reports "
            "audience_id '%s' for both): its rows under id_or_slug '%s' stay in the "
            "target as last delivered and are no longer updated; delete them where "
            "id_or_slug = '%s' and institution_public_id = '%s' (tables "
            "audience_members, membership_periods, audiences)",
            fetched.audience.label,
            earlier,
            reported,
            earlier,
            earlier,
            institution,
        )
        for stream in streams:
            partitions = _partitions(stream)
            partitions[:] = [p for p in partitions if _key(p) != (earlier, institution)]

    def _fail(self, audience: AudienceRef, failure: AudienceFailedError) -> None:
        """Record an audience that could not be delivered; the sync goes on."""
        self._log_failure(failure)
        self.failures.append(failure)
        self.summary.failed += 1
        members = self._selected(self.members_stream)
        if members is not None:
            partition_state = members.get_context_state(audience.context)
            bookmarks.clear_own_mark(partition_state, self.run_id)

    @staticmethod
    def _selected(stream: Stream | None) -> Stream | None:
        return stream if stream is not None and stream.selected else None

    def _state_stream(self) -> Stream:
        """A stream whose `tap_state` is the tap's whole state (all share it)."""
        stream = self.members_stream or self.periods_stream
        assert stream is not None  # noqa: S101 - discovery registers both
        return stream

    def raise_for_failures(self) -> None:
        """End a sync in which some audiences failed with a non-zero exit."""
        if self.failures:
            raise SyncIncompleteError(self.failures)

    def close(self) -> None:
        """Flush the state and what is buffered; stop downloads nobody will read."""
        self.state_writer.flush()
        self.output.flush()
        if "fetcher" in self.__dict__:
            self.fetcher.close()


def _partitions(stream: Stream) -> list[dict[str, Any]]:
    """A stream's state partitions, read without giving a stream no state one."""
    bookmarks: dict[str, Any] = stream.tap_state.get("bookmarks", {})
    partitions: list[dict[str, Any]] = bookmarks.get(stream.name, {}).get(
        "partitions", []
    )
    return partitions


def _key(partition: dict[str, Any]) -> tuple[str, str]:
    """A state partition's audience key (statefile.py checked its context)."""
    context = partition["context"]
    return (context["id_or_slug"], context["institution_public_id"])
