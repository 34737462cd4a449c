"""One audience's log of what MX served, shared by every pipeline on the store.

The log is a sequence of tables. Table n holds every open stint after
observation n (a list some run fetched), and names the closed segments: the
stints each observation closed, kept for `history_retention_days`. A new
observation that differs from the latest table's open members is merged into
the next table, which is published before any record of the run that made
it (a kill leaves the log ahead of a target, never behind).

Nothing in the log belongs to a pipeline: each pipeline's state holds its
own watermark (the last table whose changes its target confirmed) and the
log's id. Two runs that publish the same next table at the same moment
cannot both win (the store creates a name only once): the loser reads the
winner's table and merges its own observation on top.

Observation times never go backwards along the log, whatever the runners'
clocks say: each is at least a millisecond after the one before. A stint's
key is the time of the observation that opened it, so it is the same in
every pipeline and every resend.

The log keeps the latest table and the one before it (a run reading the
older one while another publishes is not cut short); superseded tables,
closed segments past retention, and segments of runs that lost a race are
removed by the run that publishes.
"""

from __future__ import annotations

import datetime
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.errors import TapMxAudienceError
from tap_mx_audience.history.buckets import MemberBuckets
from tap_mx_audience.history.logfile import (
    CLOSED_MAGIC,
    TABLE_MAGIC,
    Bucket,
    LogFileError,
    LogFileReader,
    LogFileWriter,
    read_header,
)
from tap_mx_audience.history.merge import BucketMerge, merge_bucket
from tap_mx_audience.history.store import SnapshotStore
from tap_mx_audience.history.storecalls import SETTING, StoreFileMissingError
from tap_mx_audience.history.table import (
    ClosedSegment,
    LogView,
    Observation,
    TableHeader,
    empty_buckets,
)

logger = logging.getLogger("tap-mx-audience")

START_OVER = (
    "to start over, clear this audience's state (its partitions of audience_members "
    "and membership_periods; meltano state clear --force <state id> clears every "
    "audience) and delete its rows in the target; the next run sends its current "
    "members and the stints the log still holds"
)
DELTA_BYTES = 4 << 20
"""An observation's changes kept in memory for sending, at most (else re-read)."""
MAX_RACES = 8
"""Tables published by other runs while this one merges, before it gives up."""
TABLES_KEPT = 2

_TABLE = re.compile(r"(?P<sequence>\d{12})\.table")
_CLOSED = re.compile(r"(?P<sequence>\d{12})-(?P<token>[0-9a-f]{16})\.closed")
_EARLIER_FORMAT = re.compile(r"\d{12}-xxh3sum-\d+-[0-9a-f]{16}\.snap")
_TICK = datetime.timedelta(milliseconds=1)


class LogError(TapMxAudienceError):
    """The audience's log cannot serve this pipeline; the message says the way out."""


@dataclass(frozen=True)
class Served:
    """The list this run fetched, as the log takes it."""

    fingerprint: str
    updated_on: datetime.date
    fetched_at: datetime.datetime
    member_batches: Callable[[], Iterable[list[bytes]]]


class AudienceLog:
    """Reads, extends and tidies one audience's log."""

    def __init__(
        self,
        store: SnapshotStore,
        audience: AudienceRef,
        scratch: Path,
        retention: datetime.timedelta,
    ) -> None:
        """Work in `scratch`, a private folder of this run for the audience."""
        self._store = store
        self._audience = audience
        self._scratch = scratch
        self._retention = retention
        self._folder = store.folder(audience)
        self._label = f"the log in {SETTING} '{store.label}'"

    def observe(self, served: Served, since: Callable[[TableHeader], int]) -> LogView:
        """Record the served list in the log; bring what `since` needs to local disk.

        `since` reads, from the latest table's header, the oldest watermark
        this run serves from (and refuses one the log cannot serve). Raises
        `LogError` or `SnapshotStoreError`; the store is left as good as found.
        """
        with ExitStack() as cleanup:
            bucketed: list[MemberBuckets] = []

            def buckets() -> MemberBuckets:
                if not bucketed:
                    bucketed.append(
                        cleanup.enter_context(
                            MemberBuckets(served.member_batches(), str(self._scratch))
                        )
                    )
                return bucketed[0]

            for _ in range(MAX_RACES):
                names = self._store.names(self._folder)
                try:
                    view = self._observe_once(names, served, buckets, since)
                    if view is not None:
                        self._fetch_segments(view, since(view.header))
                        return view
                except _LogChangedError as exc:
                    if self._store.names(self._folder) == names:
                        # Nothing changed meanwhile: not a race, a loss.
                        raise self._set_aside(f"misses {exc}") from None
                except LogFileError as exc:
                    raise self._set_aside(str(exc)) from None
        msg = (
            f"{self._label} kept changing while this run merged into it "
            f"({MAX_RACES} tables published by other runs meanwhile); try again"
        )
        raise LogError(msg)

    def serve_from(
        self, header: TableHeader, log: str | None, watermark: int | None
    ) -> int:
        """The table after which a stream's target lacks the log's changes.

        No watermark (a first run, a full refresh, a cleared state): from the
        start, every stint the log holds. A watermark of another log, ahead of
        this one, or older than what retention kept cannot be served exactly:
        `LogError`, with the way out.
        """
        if watermark is None:
            return 0
        if log != header.log:
            problem = (
                "is not the log this pipeline's state was delivered from (was the "
                "store emptied, replaced or its log set aside?)"
            )
        elif watermark > header.sequence:
            problem = (
                f"ends at table {header.sequence}, before table {watermark} that this "
                "pipeline's state confirms (was the store restored from a backup?)"
            )
        elif watermark < header.pruned_through:
            problem = (
                f"no longer holds the stints closed after table {watermark} that this "
                "pipeline's target lacks: history_retention_days removed those up to "
                f"table {header.pruned_through}"
            )
        else:
            return watermark
        raise LogError(f"{self._label} {problem}; {START_OVER}")

    def _observe_once(
        self,
        names: list[str],
        served: Served,
        buckets: Callable[[], MemberBuckets],
        since: Callable[[TableHeader], int],
    ) -> LogView | None:
        """The view after merging; None if another run published first."""
        if any(_EARLIER_FORMAT.fullmatch(name) for name in names):
            raise self._set_aside("holds snapshots of an earlier, unreleased format")
        tables = _sequences(_TABLE, names)
        latest = None
        if tables:
            header = self._peek(tables[-1])
            unchanged = header.fingerprint == served.fingerprint
            if unchanged and since(header) >= header.sequence:
                # The common day: the same list, every stream up to date. The
                # header alone says so; the table is neither fetched nor read.
                return LogView(header, None)
            # Checked whole now when a stream is sent from it; a merge checks
            # each frame as it reads it.
            latest = self._read_table(tables[-1], check_frames=unchanged)
            if unchanged:
                return latest
        sequence = 1 + (tables[-1] if tables else 0)
        merged = self._merge(served, buckets(), latest, sequence)
        if merged is None:
            assert latest is not None  # noqa: S101 - no stint changed, so there was one
            return latest
        if merged.left:
            name = merged.header.closed[-1].name
            self._store.create(f"{self._folder}/{name}", merged.segments[sequence])
        if not self._store.create(
            f"{self._folder}/{_table_name(sequence)}", merged.local_table
        ):
            if merged.left:
                self._store.delete(f"{self._folder}/{merged.header.closed[-1].name}")
            logger.info(
                "%s: another run published table %d of its log first; merging again",
                self._audience.label,
                sequence,
            )
            return None
        self._tidy(names, merged.header)
        return merged

    def _peek(self, sequence: int) -> TableHeader:
        """The header of the table at `sequence`, read without the rest of it."""
        name = _table_name(sequence)
        path = f"{self._folder}/{name}"
        try:
            fields, _ = read_header(
                lambda start, length: self._store.read_range(path, start, length),
                TABLE_MAGIC,
            )
        except StoreFileMissingError:
            raise _LogChangedError(name) from None
        except LogFileError as exc:
            raise LogFileError(f"{name} {exc}") from None
        header = TableHeader.from_json(fields)
        if header.sequence != sequence:
            msg = f"{name} says it is table {header.sequence}"
            raise LogFileError(msg)
        return header

    def _read_table(self, sequence: int, *, check_frames: bool) -> LogView:
        """The table at `sequence` on local disk, its header (and frames) checked."""
        name = _table_name(sequence)
        local = self._local_copy(name)
        header = TableHeader.from_json(self._header(local, TABLE_MAGIC, name))
        if check_frames:
            self._checked(local, TABLE_MAGIC, name)
        if header.sequence != sequence:
            msg = f"{name} says it is table {header.sequence}"
            raise LogFileError(msg)
        return LogView(header, local)

    def _local_copy(self, name: str) -> Path:
        """A file of the log on local disk: itself in a local store, else a download."""
        path = f"{self._folder}/{name}"
        local = self._store.local_path(path)
        if local is not None:
            return local
        local = self._scratch / name
        try:
            self._store.fetch(path, local)
        except StoreFileMissingError:
            raise _LogChangedError(name) from None
        return local

    @staticmethod
    def _header(local: Path, magic: bytes, name: str) -> dict[str, Any]:
        """The header of a log file (its frames are checked as they are read)."""
        try:
            with local.open("rb") as file:
                return LogFileReader(file, magic).header
        except FileNotFoundError:
            raise _LogChangedError(name) from None
        except LogFileError as exc:
            raise LogFileError(f"{name} {exc}") from None

    @staticmethod
    def _checked(local: Path, magic: bytes, name: str) -> None:
        """Check every frame of a log file now, before anything is sent from it."""
        try:
            with local.open("rb") as file:
                LogFileReader(file, magic).verify()
        except FileNotFoundError:
            raise _LogChangedError(name) from None
        except LogFileError as exc:
            raise LogFileError(f"{name} {exc}") from None

    def _merge(
        self,
        served: Served,
        bucketed: MemberBuckets,
        latest: LogView | None,
        sequence: int,
    ) -> LogView | None:
        """The next table and closed segment in scratch; None if no stint changes."""
        table_path = self._scratch / f"next-{_table_name(sequence)}"
        closed_path = self._scratch / f"next-{sequence:012d}.closed"
        counts = _MergeCounts()
        old = latest.buckets(since=latest.sequence) if latest else empty_buckets()
        with table_path.open("wb") as table_file, closed_path.open("wb") as closed_file:
            table, closed = (
                LogFileWriter(table_file, TABLE_MAGIC),
                LogFileWriter(closed_file, CLOSED_MAGIC),
            )
            try:
                for (runs, _), ids in zip(old, bucketed.buckets(), strict=True):
                    merged = merge_bucket(runs, ids, sequence)
                    counts.add(merged, sequence)
                    table.add(merged.table)
                    closed.add(merged.closed)
            except LogFileError as exc:
                raise LogFileError(f"{_table_name(sequence - 1)} {exc}") from None
            if latest is not None and not counts.joined and not counts.left:
                return None
            header = self._next_header(served, latest, sequence, counts)
            closed.finish({"sequence": sequence})
            table.finish(header.to_json())
        view = LogView(
            header,
            table_path,
            joined=counts.joined,
            left=counts.left,
            delta=counts.delta,
        )
        if counts.left:
            view.segments[sequence] = closed_path
        return view

    def _next_header(
        self,
        served: Served,
        latest: LogView | None,
        sequence: int,
        counts: _MergeCounts,
    ) -> TableHeader:
        """The header of table `sequence`: its observation, retention applied."""
        previous = latest.header if latest is not None else None
        at = served.fetched_at.replace(
            microsecond=served.fetched_at.microsecond // 1000 * 1000
        )
        observations = dict(previous.observations) if previous else {}
        if observations:
            at = max(at, max(seen.at for seen in observations.values()) + _TICK)
        observations[sequence] = Observation(at, served.updated_on, served.fingerprint)
        segments = list(previous.closed) if previous else []
        if counts.left:
            segments.append(
                ClosedSegment(
                    sequence,
                    f"{sequence:012d}-{uuid.uuid4().hex[:16]}.closed",
                    counts.left,
                    tuple(sorted(counts.opened_in_closed)),
                )
            )
        cutoff = at - self._retention
        kept = tuple(s for s in segments if observations[s.closed].at >= cutoff)
        pruned = max(
            [s.closed for s in segments if observations[s.closed].at < cutoff]
            + [previous.pruned_through if previous else 0]
        )
        referenced = {sequence} | counts.opened_in_table
        for segment in kept:
            referenced.add(segment.closed)
            referenced.update(segment.opened)
        return TableHeader(
            log=previous.log if previous else uuid.uuid4().hex,
            sequence=sequence,
            fingerprint=served.fingerprint,
            member_count=counts.members,
            observations={s: observations[s] for s in sorted(referenced)},
            closed=kept,
            pruned_through=pruned,
        )

    def _fetch_segments(self, view: LogView, since: int) -> None:
        """Bring the closed segments after `since` to local disk, each checked whole."""
        for segment in view.header.closed:
            if segment.closed <= since or segment.closed in view.segments:
                continue
            local = self._local_copy(segment.name)
            header = self._header(local, CLOSED_MAGIC, segment.name)
            self._checked(local, CLOSED_MAGIC, segment.name)
            if header.get("sequence") != segment.closed:
                msg = f"{segment.name} says it closed at {header.get('sequence')}"
                raise LogFileError(msg)
            view.segments[segment.closed] = local

    def _tidy(self, names: list[str], header: TableHeader) -> None:
        """Remove what no reader needs any more; a failure here costs nothing."""
        listed = {segment.name for segment in header.closed}
        stale = [
            name
            for name in names
            if (
                (match := _TABLE.fullmatch(name))
                and int(match["sequence"]) <= header.sequence - TABLES_KEPT
            )
            or (
                (match := _CLOSED.fullmatch(name))
                and int(match["sequence"]) <= header.sequence
                and name not in listed
            )
        ]
        for name in stale:
            try:
                self._store.delete(f"{self._folder}/{name}")
            except TapMxAudienceError as exc:
                logger.warning(
                    "%s: could not tidy its log (%s)", self._audience.label, exc
                )
                return

    def _set_aside(self, problem: str) -> LogError:
        """Move the log's files aside, so the next run starts afresh; the error."""
        movable = [
            name
            for name in self._store.names(self._folder)
            if _TABLE.fullmatch(name)
            or _CLOSED.fullmatch(name)
            or _EARLIER_FORMAT.fullmatch(name)
        ]
        aside = self._store.set_aside(self._folder, movable)
        return LogError(
            f"{self._label} {problem}; its files were set aside in '{aside}'; "
            f"{START_OVER}"
        )


@dataclass
class _MergeCounts:
    """What a merge did, bucket after bucket."""

    joined: int = 0
    left: int = 0
    members: int = 0
    opened_in_table: set[int] = field(default_factory=set)
    opened_in_closed: set[int] = field(default_factory=set)
    delta: list[tuple[Bucket, Bucket]] | None = field(default_factory=list)
    """The runs opened and closed, per bucket, while they stay small."""
    delta_bytes: int = 0

    def add(self, merged: BucketMerge, sequence: int) -> None:
        self.joined += merged.joined
        self.left += merged.left
        self.members += sum(run.count for run in merged.table)
        self.opened_in_table.update(run.opened for run in merged.table)
        self.opened_in_closed.update(run.opened for run in merged.closed)
        if self.delta is not None:
            opened = [run for run in merged.table if run.opened == sequence]
            self.delta.append((opened, merged.closed))
            self.delta_bytes += sum(len(run.data) for run in opened + merged.closed)
            if self.delta_bytes > DELTA_BYTES:
                self.delta = None  # a big change: sent from the files


class _LogChangedError(Exception):
    """A file of the log went missing while this run read it: read the log again."""


def _table_name(sequence: int) -> str:
    return f"{sequence:012d}.table"


def _sequences(pattern: re.Pattern[str], names: Iterable[str]) -> list[int]:
    return sorted(
        int(match["sequence"])
        for name in names
        if (match := pattern.fullmatch(name)) is not None
    )
