"""One audience's delivery in this sync: decided once, sent, then committed.

`DeliveryRun` builds it right after the list was fetched and checked,
before anything about the audience is written: full mode (`full.py`) or
changes mode (`changes.py`). The child streams ask it for their records;
the run commits it once they are done, so no bookmark covers records that
were not written.
"""

from __future__ import annotations

import datetime
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator
from typing import Any, TypeVar

from singer_sdk.streams import Stream

from tap_mx_audience.api import FetchedAudience
from tap_mx_audience.delivery import fastpath
from tap_mx_audience.delivery.records import Record, with_member
from tap_mx_audience.history.logfile import Run
from tap_mx_audience.output.lines import (
    ID_DELIMITER,
    RecordLines,
    escaped_ids,
    verbatim_block,
)
from tap_mx_audience.output.writer import BufferedSingerWriter

logger = logging.getLogger("tap-mx-audience")

_Key = TypeVar("_Key", bound=Hashable)

MEMBERS_STREAM = "audience_members"
"""The stream whose bookmarks say which members a target holds as current."""


class AudienceDelivery(ABC):
    """What this sync sends of one fetched audience, and what it commits."""

    def __init__(self, fetched: FetchedAudience) -> None:
        """Nothing is sent yet."""
        self.fetched = fetched
        self.sent: dict[str, int] = {}
        """Records sent per stream, once a stream's records are all out."""

    @property
    @abstractmethod
    def list_fingerprint(self) -> str:
        """The fingerprint of the members current in the target after this sync."""

    @property
    @abstractmethod
    def members_changed(self) -> bool:
        """Whether this sync sends member records of the audience (for the summary)."""

    @abstractmethod
    def member_records(
        self, stream: Stream, output: BufferedSingerWriter, count: Callable[[int], None]
    ) -> Iterator[Record]:
        """The `audience_members` records, or none when the fast path wrote them."""

    @abstractmethod
    def period_records(
        self, stream: Stream, output: BufferedSingerWriter, count: Callable[[int], None]
    ) -> Iterator[Record]:
        """The `membership_periods` records, or none when the fast path wrote them."""

    @abstractmethod
    def commit(self) -> None:
        """Move the bookmarks of the streams whose records are all out."""

    def close(self) -> None:  # noqa: B027 - most deliveries hold nothing to remove
        """Remove what the delivery holds on local disk."""

    @property
    def time_extracted(self) -> datetime.datetime:
        """The RECORDs' `time_extracted`: when the list finished downloading."""
        return self.fetched.download.downloaded_at


def send_groups(  # noqa: PLR0913 - the stream, where to, and what
    stream: Stream,
    output: BufferedSingerWriter,
    count: Callable[[int], None],
    groups: Iterable[tuple[_Key, Run]],
    template_of: Callable[[_Key], Record],
    *,
    label: str,
    time_extracted: datetime.datetime,
) -> Generator[Record, None, int]:
    """Records of runs of member ids that share all other fields (a group key).

    Through singer-sdk when it could change the records (`fastpath`), else
    written directly, one serialized template per group key. Returns (as the
    generator's value) how many records were sent.
    """
    reason = fastpath.sdk_path_reason(stream)
    if reason is not None:
        logger.info(
            "%s: %s records go through the SDK (%s)", label, stream.name, reason
        )
        sent = 0
        for key, run in groups:
            template = template_of(key)
            for member in run.ids():
                yield with_member(template, member.decode("utf-8", "surrogatepass"))
            sent += run.count
        return sent
    lines: dict[Any, RecordLines] = {}
    sent = 0
    for key, run in groups:
        if (writer := lines.get(key)) is None:
            writer = lines[key] = RecordLines(
                stream.name, template_of(key), time_extracted
            )
        block = verbatim_block(run.data)
        if block is None:
            block = escaped_ids(run.ids())
        sent += writer.write(output, ID_DELIMITER, [block])
    count(sent)
    return sent
