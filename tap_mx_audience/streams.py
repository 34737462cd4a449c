"""The streams, as declarations: name, schema, keys, replication, small hooks.

`audiences` has one partition per configured audience; its children
`audience_members` and `membership_periods` are synced by singer-sdk for each
`audiences` record. Every stream asks `DeliveryRun` (delivery/run.py) for its
records: fetching, deciding, sending and committing an audience happen
there, in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.metrics import DEFAULT_LOG_INTERVAL
from singer_sdk.streams import Stream
from typing_extensions import override

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.delivery.bookmarks import REPLICATION_KEY
from tap_mx_audience.delivery.run import DeliveryRun
from tap_mx_audience.schemas import (
    AUDIENCE_KEY,
    AUDIENCE_MEMBERS_SCHEMA,
    AUDIENCES_SCHEMA,
    MEMBERSHIP_PERIODS_SCHEMA,
)

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.metrics import Counter


class MxStream(Stream):
    """What every stream of the tap shares: the deliveries, one SCHEMA per run."""

    def __init__(self, tap: Tap, deliveries: DeliveryRun) -> None:
        """Keep the deliveries this stream's records come from."""
        super().__init__(tap)
        self.deliveries = deliveries
        self._schema_written = False
        self._record_counter: Counter | None = None

    @override
    def _write_schema_message(self) -> None:
        """Write the SCHEMA once per run: the SDK writes it once per partition."""
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    @override
    def get_record_counter(
        self,
        *,
        endpoint: str | None = None,
        log_interval: float = DEFAULT_LOG_INTERVAL,
    ) -> Counter:
        """The SDK's counter, kept so the fast path's records are counted in it."""
        self._record_counter = super().get_record_counter(
            endpoint=endpoint, log_interval=log_interval
        )
        return self._record_counter

    def count_records(self, written: int) -> None:
        """Count records written past the SDK, in the partition's one record_count."""
        assert self._record_counter is not None  # noqa: S101 - inside a sync
        self._record_counter.increment(written)


class AudienceStream(MxStream):
    """A stream with one partition per configured audience."""

    state_partitioning_keys: ClassVar[list[str]] = list(AUDIENCE_KEY)

    def __init__(self, tap: Tap, deliveries: DeliveryRun) -> None:
        """Start with an empty index of the partitions' states."""
        super().__init__(tap, deliveries)
        self._context_states: dict[tuple[Any, ...], dict[str, Any]] = {}

    @property
    @override
    def partitions(self) -> list[dict[str, Any]]:
        return [audience.context for audience in self.deliveries.settings.audiences]

    @override
    def get_context_state(self, context: Context | None) -> dict[str, Any]:
        """The partition's state dict, from an index of the stream's partitions.

        The SDK finds it by scanning every partition: looked up for each
        audience, that is quadratic (10,000 audiences: 50 million comparisons).
        """
        if context is None or not self.state_partitioning_keys:
            return super().get_context_state(context)
        partitions: list[dict[str, Any]] = self.stream_state.setdefault(
            "partitions", []
        )
        if len(partitions) != len(self._context_states):
            # Partitions the SDK added itself: index them all again (rare).
            self._context_states = {
                self._partition_key(partition["context"]): partition
                for partition in partitions
            }
        key = self._partition_key(context)
        if (state := self._context_states.get(key)) is None:
            # New, laid out as the SDK does: {"context": the partitioning keys}.
            state = {
                "context": {
                    name: context[name] for name in self.state_partitioning_keys
                }
            }
            partitions.append(state)
            self._context_states[key] = state
        return state

    @override
    def finalize_state_progress_markers(
        self, state: dict[str, Any] | None = None
    ) -> None:
        """Finalize each audience's state found through the index, not by scanning."""
        if state or not self.selected or not self.state_partitioning_keys:
            super().finalize_state_progress_markers(state)
            return
        for partition in self.partitions:
            super().finalize_state_progress_markers(self.get_context_state(partition))

    def _partition_key(self, context: Context) -> tuple[Any, ...]:
        return tuple(context.get(name) for name in self.state_partitioning_keys)


def _audience(context: Context | None) -> AudienceRef:
    assert context is not None  # noqa: S101 - these streams are always partitioned
    return AudienceRef(context["id_or_slug"], context["institution_public_id"])


class AudiencesStream(AudienceStream):
    """One summary record per configured audience per sync."""

    name = "audiences"
    primary_keys: ClassVar[list[str]] = list(AUDIENCE_KEY)
    replication_key = None
    # Full table: nothing to bookmark, so no state partition per audience.
    state_partitioning_keys: ClassVar[list[str]] = []
    schema = AUDIENCES_SCHEMA

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        return self.deliveries.deliver(_audience(context))


class AudienceMembersStream(AudienceStream):
    """One record per member of each audience whose membership changed."""

    name = "audience_members"
    parent_stream_type = AudiencesStream
    primary_keys: ClassVar[list[str]] = [*AUDIENCE_KEY, "member_id"]
    replication_key = REPLICATION_KEY
    schema = AUDIENCE_MEMBERS_SCHEMA

    @override
    def _write_starting_replication_value(self, context: Context | None) -> None:
        """Nothing to write: the bookmark (delivery/bookmarks.py) decides.

        singer-sdk's version finds the partition by scanning them all, for
        every audience: quadratic in the number of audiences.
        """

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Nothing to track per record: the delivery commits the bookmark.

        singer-sdk would keep progress markers from each record's
        `updated_on`, and warn on every run that they are not resumable.
        """

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        return self.deliveries.member_records(
            self, _audience(context), self.count_records
        )


class MembershipPeriodsStream(AudienceStream):
    """One record per stint of a member in an audience (changes mode only)."""

    name = "membership_periods"
    parent_stream_type = AudiencesStream
    primary_keys: ClassVar[list[str]] = [*AUDIENCE_KEY, "member_id", "joined_at"]
    replication_key = None
    schema = MEMBERSHIP_PERIODS_SCHEMA

    @property
    @override
    def selected(self) -> bool:
        """Only in changes mode: stints are worked out from the snapshot store's log.

        Not synced at all in full mode, which spares singer-sdk's
        per-partition work and an empty table.
        """
        return bool(self.config.get("snapshot_store")) and super().selected

    @selected.setter
    def selected(self, value: bool | None) -> None:
        Stream.selected.__set__(self, value)  # type: ignore[attr-defined]

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        return self.deliveries.period_records(
            self, _audience(context), self.count_records
        )
