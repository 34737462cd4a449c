"""The `audiences` and `audience_members` streams.

`audiences` has one partition per configured audience. It downloads and checks
each list once (through the sync's fetcher, which works ahead) and hands the
checked body to its child `audience_members` in the child context. The child
decides from its bookmark whether to send the members, sends them, and only
then commits the bookmark.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.streams import Stream
from typing_extensions import override

from tap_mx_audience.api import FetchedAudience
from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.delivery import bookmarks, fastpath
from tap_mx_audience.errors import AudienceFailedError
from tap_mx_audience.schemas import AUDIENCE_MEMBERS_SCHEMA, AUDIENCES_SCHEMA
from tap_mx_audience.services import SyncServices

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

LIST_CONTEXT_KEY = "list"


class _MxStream(Stream):
    """What both streams share: the sync's services and the configured partitions."""

    def __init__(self, tap: Tap, services: SyncServices) -> None:
        """Keep the services this sync's records come from and go through."""
        super().__init__(tap)
        self._services = services

    @property
    @override
    def partitions(self) -> list[dict[str, Any]]:
        return [audience.context for audience in self._services.settings.audiences]


class AudiencesStream(_MxStream):
    """One summary record per configured audience per sync."""

    name = "audiences"
    primary_keys: ClassVar[list[str]] = ["audience_id", "institution_id"]
    replication_key = None
    schema = AUDIENCES_SCHEMA

    def __init__(self, tap: Tap, services: SyncServices) -> None:
        """Start with no list in hand."""
        super().__init__(tap, services)
        self._current: FetchedAudience | None = None

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        assert context is not None  # noqa: S101 - the stream is always partitioned
        audience = AudienceRef(context["id_or_slug"], context["institution_public_id"])
        try:
            fetched = self._services.fetcher.fetch(audience)
        except AudienceFailedError as failure:
            self._services.report_failure(failure)
            return
        self._current = fetched
        try:
            yield _summary_record(fetched)
        finally:
            self._current = None
            fetched.close()
            # Out before waiting on the next download, not held in the buffer.
            self._services.output.flush()

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context:
        assert context is not None  # noqa: S101
        return {**context, LIST_CONTEXT_KEY: self._current}


class AudienceMembersStream(_MxStream):
    """One record per member of each audience whose list changed."""

    name = "audience_members"
    parent_stream_type = AudiencesStream
    primary_keys: ClassVar[list[str]] = ["audience_id", "institution_id", "member_id"]
    replication_key = bookmarks.REPLICATION_KEY
    state_partitioning_keys: ClassVar[list[str]] = [
        "id_or_slug",
        "institution_public_id",
    ]
    schema = AUDIENCE_MEMBERS_SCHEMA

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        assert context is not None  # noqa: S101 - always called by the parent
        fetched: FetchedAudience = context[LIST_CONTEXT_KEY]
        partition_state = self.get_context_state(context)
        decision = bookmarks.Bookmark.read(partition_state).decide(
            fetched.updated_on,
            fetched.summary.fingerprint,
            self._services.settings.start_date,
        )
        self.logger.info(
            "%s: updated_on %s, %d members: %s; %s",
            fetched.audience.label,
            fetched.updated_on,
            fetched.summary.member_count,
            decision.value,
            "sending them" if decision.sends else "not sending them",
        )
        if decision.sends:
            yield from self._send(fetched)
            bookmarks.commit(
                partition_state,
                fetched.updated_on,
                fetched.summary.fingerprint,
                fetched.summary.member_count,
            )
        self.state_manager.is_flushed = False

    def _send(self, fetched: FetchedAudience) -> Iterable[Record]:
        """Yield member records through the SDK, or write them directly when safe."""
        template = _member_template(fetched)
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
            return
        self.logger.info("%s: members go through the fast path", fetched.audience.label)
        written = fastpath.write_member_records(
            self._services.output, self.name, template, fetched
        )
        with self.get_record_counter() as counter:
            counter.with_context(fetched.audience.context)
            counter.increment(written)


def _member_template(fetched: FetchedAudience) -> dict[str, Any]:
    """Every field of a member record but `member_id`, in schema order."""
    return {
        "audience_id": fetched.audience_id,
        "id_or_slug": fetched.audience.id_or_slug,
        "institution_id": fetched.institution_id,
        "institution_public_id": fetched.audience.institution_public_id,
        "member_id": None,
        "updated_on": fetched.updated_on.isoformat(),
    }


def _summary_record(fetched: FetchedAudience) -> dict[str, Any]:
    summary = fetched.summary
    return {
        "audience_id": fetched.audience_id,
        "id_or_slug": fetched.audience.id_or_slug,
        "institution_id": fetched.institution_id,
        "institution_public_id": fetched.audience.institution_public_id,
        "count": summary.declared_count,
        "member_count": summary.member_count,
        "updated_on": fetched.updated_on.isoformat(),
        "fingerprint": summary.fingerprint,
        "fetched_at": fetched.download.downloaded_at.isoformat(),
    }
