"""One sync's deliveries: fetch, decide, send and commit each audience.

The streams only declare themselves and ask this module for their records.
For each configured audience, `deliver` fetches the checked list (downloaded
ahead by the fetcher), decides from the bookmark what to send (an
`AudienceDelivery`), hands out the `audiences` record while the child
streams send theirs, then commits the bookmark and emits the state. The
delivery being sent is held here, never in the SDK's stream context.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import Any

from singer_sdk.streams import Stream

from tap_mx_audience.api import AudienceFetcher, FetchedAudience, MxApiClient
from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.delivery import bookmarks, records
from tap_mx_audience.delivery.audience import AudienceDelivery
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
        """The `audience_members` stream, whose bookmarks decide what is sent."""
        self._reported_ids: dict[tuple[str, str], AudienceRef] = {}
        self._current: AudienceDelivery | None = None
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
        url = self.settings.snapshot_store
        if url is None:
            return None
        return SnapshotStore(url, self.settings.snapshot_store_options)

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
        if (earlier := self._same_audience_configured_before(fetched)) is not None:
            fetched.close()
            reason = (
                f"is the same audience as {earlier.label} (the API reports "
                f"audience_id '{fetched.audience_id}' for both); configure it once"
            )
            self._fail(audience, AudienceFailedError(audience, reason))
            return
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

    def change_records(self, audience: AudienceRef) -> Iterator[Record]:
        """The `membership_changes` records of the audience being delivered."""
        return self._delivery_of(audience).change_records()

    def _delivery_of(self, audience: AudienceRef) -> AudienceDelivery:
        delivery = self._current
        if delivery is None or delivery.fetched.audience != audience:
            msg = f"{audience.label} is not being delivered"
            raise RuntimeError(msg)
        return delivery

    def _deliver(self, fetched: FetchedAudience) -> Iterator[Record]:
        members = self._members_stream()
        if members is None:
            yield records.summary_record(fetched, fetched.summary.fingerprint)
            return
        try:
            delivery = self._decide(
                fetched, members.get_context_state(fetched.audience.context)
            )
        except TapMxAudienceError as exc:
            # The store's messages may name the audience already.
            reason = str(exc).removeprefix(f"{fetched.audience.label}: ")
            self._fail(fetched.audience, AudienceFailedError(fetched.audience, reason))
            return
        self._current = delivery
        try:
            yield records.summary_record(fetched, delivery.list_fingerprint)
        finally:
            delivery.close()
        # The children have run: what they wrote is out, the bookmark may follow.
        delivery.commit()
        self.summary.add(delivery)
        self.state_writer.write_state(members.tap_state)

    def _decide(
        self, fetched: FetchedAudience, partition_state: dict[str, Any]
    ) -> AudienceDelivery:
        settings, store = self.settings, self.snapshot_store
        if store is None:
            return AudienceDelivery.full_mode(
                fetched,
                partition_state,
                run_id=self.run_id,
                start_date=settings.start_date,
            )
        return AudienceDelivery.changes_mode(
            fetched,
            partition_state,
            store=store,
            run_id=self.run_id,
            start_date=settings.start_date,
        )

    def _mark_delivering(self) -> None:
        """Mark every audience as being delivered, in a STATE ahead of any record.

        A run stopped midway leaves its marks: the next run then re-sends those
        audiences even if their lists look unchanged, because the target may
        hold part of this run's records (full mode has nothing else to tell).
        """
        self._started = True
        members = self._members_stream()
        if members is None:
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

    def _fail(self, audience: AudienceRef, failure: AudienceFailedError) -> None:
        """Record an audience that could not be delivered; the sync goes on."""
        self._log_failure(failure)
        self.failures.append(failure)
        self.summary.failed += 1
        members = self._members_stream()
        if members is not None:
            partition_state = members.get_context_state(audience.context)
            bookmarks.clear_own_mark(partition_state, self.run_id)

    def _members_stream(self) -> Stream | None:
        """The selected `audience_members` stream, whose bookmarks decide delivery."""
        stream = self.members_stream
        return stream if stream is not None and stream.selected else None

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
