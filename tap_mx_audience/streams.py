"""The `audiences`, `audience_members` and `membership_changes` streams.

`audiences` has one partition per configured audience. It downloads and checks
each list once (through the sync's fetcher, which works ahead), decides from
the audience's bookmark what to deliver (a `DeliveryPlan`; in changes mode the
snapshot is written and the changes worked out here, before any record), and
hands the plan to its children in the child context. `audience_members` sends
the members (or who joined and left), `membership_changes` the events; the
parent commits the bookmark once both are done.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.metrics import DEFAULT_LOG_INTERVAL
from singer_sdk.streams import Stream
from typing_extensions import override

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.delivery import bookmarks, fastpath
from tap_mx_audience.delivery.plan import DeliveryPlan
from tap_mx_audience.errors import AudienceFailedError, TapMxAudienceError
from tap_mx_audience.schemas import (
    AUDIENCE_KEY,
    AUDIENCE_MEMBERS_SCHEMA,
    AUDIENCES_SCHEMA,
    MEMBERSHIP_CHANGES_SCHEMA,
)
from tap_mx_audience.services import SyncServices

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.metrics import Counter

    from tap_mx_audience.api import FetchedAudience

PLAN_CONTEXT_KEY = "delivery"


class _MxStream(Stream):
    """What the streams share: the sync's services, the partitions, one SCHEMA."""

    state_partitioning_keys: ClassVar[list[str]] = list(AUDIENCE_KEY)

    def __init__(self, tap: Tap, services: SyncServices) -> None:
        """Keep the services this sync's records come from and go through."""
        super().__init__(tap)
        self._services = services
        self._schema_written = False
        self._record_counter: Counter | None = None
        self._context_states: dict[tuple[Any, ...], dict[str, Any]] = {}

    @property
    @override
    def partitions(self) -> list[dict[str, Any]]:
        return [audience.context for audience in self._services.settings.audiences]

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


class AudiencesStream(_MxStream):
    """One summary record per configured audience per sync."""

    name = "audiences"
    primary_keys: ClassVar[list[str]] = list(AUDIENCE_KEY)
    replication_key = None
    # Full table: nothing to bookmark, so no state partition per audience.
    state_partitioning_keys: ClassVar[list[str]] = []
    schema = AUDIENCES_SCHEMA

    def __init__(self, tap: Tap, services: SyncServices) -> None:
        """Start with no plan in hand and nothing marked in flight."""
        super().__init__(tap, services)
        self._current: DeliveryPlan | None = None
        self._run_started = False

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        assert context is not None  # noqa: S101 - the stream is always partitioned
        if not self._run_started:
            self._start_run()
        audience = AudienceRef(context["id_or_slug"], context["institution_public_id"])
        try:
            # While waiting on a slow download, the state held back by the
            # throttle goes out: the wait costs nothing more.
            fetched = self._services.fetcher.fetch(
                audience, on_long_wait=self._services.state_writer.idle
            )
        except AudienceFailedError as failure:
            self._fail(audience, failure)
            return
        if (first := self._services.claim_identity(fetched)) is not None:
            fetched.close()
            reason = (
                f"is the same audience as {first.label} (the API reports "
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
            self._services.output.flush()

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context:
        assert context is not None  # noqa: S101
        return {**context, PLAN_CONTEXT_KEY: self._current}

    def _deliver(self, fetched: FetchedAudience) -> Iterator[Record]:
        members = self._members_stream()
        if members is None:
            yield _summary_record(fetched, fetched.summary.fingerprint)
            return
        try:
            plan = self._plan(
                fetched, members.get_context_state(fetched.audience.context)
            )
        except TapMxAudienceError as exc:
            # The store's messages may name the audience already.
            reason = str(exc).removeprefix(f"{fetched.audience.label}: ")
            self._fail(fetched.audience, AudienceFailedError(fetched.audience, reason))
            return
        self._current = plan
        try:
            yield _summary_record(fetched, plan.list_fingerprint)
        finally:
            plan.close()
        # The children have run: what they wrote is out, the bookmark may follow.
        plan.commit()
        self._services.summary.add(plan)
        self._tap.state_writer.write_state(self.tap_state)

    def _plan(
        self, fetched: FetchedAudience, partition_state: dict[str, Any]
    ) -> DeliveryPlan:
        settings, store = self._services.settings, self._services.snapshot_store
        if store is None:
            return DeliveryPlan.full_mode(
                fetched,
                partition_state,
                run_id=self._services.run_id,
                start_date=settings.start_date,
            )
        return DeliveryPlan.changes_mode(
            fetched,
            partition_state,
            store=store,
            run_id=self._services.run_id,
            start_date=settings.start_date,
        )

    def _start_run(self) -> None:
        """Mark every audience in flight, in a STATE ahead of any member record.

        A run stopped midway leaves its marks: the next run then re-sends those
        audiences even if their lists look unchanged, because the target may
        hold part of this run's records (full mode has nothing else to tell).
        """
        self._run_started = True
        members = self._members_stream()
        if members is None:
            return
        marked = [
            bookmarks.mark_in_flight(
                members.get_context_state(audience.context), self._services.run_id
            )
            for audience in self._services.settings.audiences
        ]
        if any(marked):
            self._tap.state_writer.write_state(self.tap_state)
            self._services.state_writer.flush()

    def _fail(self, audience: AudienceRef, failure: AudienceFailedError) -> None:
        self._services.report_failure(failure)
        members = self._members_stream()
        if members is not None:
            partition_state = members.get_context_state(audience.context)
            bookmarks.clear_own_mark(partition_state, self._services.run_id)

    def _members_stream(self) -> AudienceMembersStream | None:
        """The selected child whose bookmarks decide what is delivered."""
        return next(
            (
                child
                for child in self.child_streams
                if isinstance(child, AudienceMembersStream) and child.selected
            ),
            None,
        )


class AudienceMembersStream(_MxStream):
    """One record per member of each audience whose member set changed."""

    name = "audience_members"
    parent_stream_type = AudiencesStream
    primary_keys: ClassVar[list[str]] = [*AUDIENCE_KEY, "member_id"]
    replication_key = bookmarks.REPLICATION_KEY
    schema = AUDIENCE_MEMBERS_SCHEMA

    @override
    def _write_starting_replication_value(self, context: Context | None) -> None:
        """Nothing to write: the bookmark (delivery/bookmarks.py) decides.

        singer-sdk's version finds the partition by scanning them all, for
        every audience: quadratic in the number of audiences.
        """

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        assert context is not None  # noqa: S101 - always called by the parent
        plan: DeliveryPlan = context[PLAN_CONTEXT_KEY]
        fetched = plan.fetched
        self.logger.info(
            "%s: updated_on %s, %d members: %s; %s",
            fetched.audience.label,
            fetched.updated_on,
            fetched.summary.member_count,
            plan.decision.value,
            "sending them" if plan.decision.sends else "not sending them",
        )
        if plan.goes_backwards:
            self.logger.warning(
                "%s: updated_on %s is older than the bookmark's %s; the served list "
                "is delivered all the same (the bookmark keeps the later date)",
                fetched.audience.label,
                fetched.updated_on,
                plan.bookmark.updated_on,
            )
        if not plan.decision.sends:
            return
        if plan.changes is None:
            yield from self._send_all(plan)
        else:
            yield from self._send_changes(plan)
        plan.members_written = True

    def _send_changes(self, plan: DeliveryPlan) -> Iterable[Record]:
        """Who joined (`left_on` null) and who left, through the SDK: they are few."""
        assert plan.changes is not None  # noqa: S101 - checked by the caller
        self.logger.info(
            "%s: %d joined, %d left",
            plan.fetched.audience.label,
            plan.changes.joined,
            plan.changes.left,
        )
        template = plan.member_template()
        for member_id, left_on in plan.changed_members():
            if left_on is None:
                yield {**template, "member_id": member_id}
            else:
                yield {
                    **template,
                    "member_id": member_id,
                    "left_on": left_on.isoformat(),
                    "_sdc_deleted_at": f"{left_on.isoformat()}T00:00:00+00:00",
                }
            plan.records_sent += 1

    def _send_all(self, plan: DeliveryPlan) -> Iterable[Record]:
        """Yield member records through the SDK, or write them directly when safe."""
        fetched = plan.fetched
        template = plan.member_template()
        reason = fastpath.sdk_path_reason(self)
        if reason is not None:
            self.logger.info(
                "%s: members go through the SDK record pipeline (%s)",
                fetched.audience.label,
                reason,
            )
            for batch in fetched.body.member_batches():
                for member_id in batch:
                    yield {**template, "member_id": member_id}
                plan.records_sent += len(batch)
            return
        self.logger.info("%s: members go through the fast path", fetched.audience.label)
        plan.records_sent = fastpath.write_member_records(
            self._services.output, self.name, template, fetched
        )
        self.count_records(plan.records_sent)


class MembershipChangesStream(_MxStream):
    """One record per member who joined or left an audience (changes mode only)."""

    name = "membership_changes"
    parent_stream_type = AudiencesStream
    primary_keys: ClassVar[list[str]] = [
        *AUDIENCE_KEY,
        "member_id",
        "change",
        "observed_at",
    ]
    replication_key = None
    # Sent with audience_members, whose bookmarks cover both.
    state_partitioning_keys: ClassVar[list[str]] = []
    schema = MEMBERSHIP_CHANGES_SCHEMA

    @property
    @override
    def selected(self) -> bool:
        """Only in changes mode: in full mode there are no changes to send.

        Not synced at all then, which spares singer-sdk's per-partition work
        (a third of an unchanged audience's cost) and an empty table.
        """
        return bool(self.config.get("snapshot_store")) and super().selected

    @selected.setter
    def selected(self, value: bool | None) -> None:
        Stream.selected.__set__(self, value)  # type: ignore[attr-defined]

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        assert context is not None  # noqa: S101 - always called by the parent
        plan: DeliveryPlan = context[PLAN_CONTEXT_KEY]
        if plan.snapshot is None or not plan.decision.sends:
            return
        fetched = plan.fetched
        event = {
            **fetched.audience_fields(),
            "member_id": None,
            "change": "joined",
            "updated_on": fetched.updated_on.isoformat(),
            "list_fingerprint": fetched.summary.fingerprint,
            "observed_at": fetched.download.downloaded_at.isoformat(),
        }
        for member_id, left_on in plan.changed_members():
            if left_on is None:
                yield {**event, "member_id": member_id}
            else:
                yield {
                    **event,
                    "member_id": member_id,
                    "change": "left",
                    "updated_on": left_on.isoformat(),
                }


def _summary_record(fetched: FetchedAudience, list_fingerprint: str) -> dict[str, Any]:
    summary = fetched.summary
    return {
        **fetched.audience_fields(),
        "count": summary.declared_count,
        "member_count": summary.member_count,
        "updated_on": fetched.updated_on.isoformat(),
        "fingerprint": summary.fingerprint,
        "list_fingerprint": list_fingerprint,
        "fetched_at": fetched.download.downloaded_at.isoformat(),
    }
