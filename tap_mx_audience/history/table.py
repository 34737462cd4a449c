"""A table of an audience's log: what its header says, and a view of it on local disk.

The header holds the log's id, the table's position, the fingerprint of the
list it observed, the observations its stints refer to (when, which date,
which list), the closed segments it names and how far retention has pruned.
A `LogView` reads the table, and the closed segments after a watermark,
bucket by bucket.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_mx_audience.history.buckets import BUCKETS
from tap_mx_audience.history.changes import ClosedBucket
from tap_mx_audience.history.logfile import (
    CLOSED_MAGIC,
    TABLE_MAGIC,
    Bucket,
    LogFileError,
    LogFileReader,
)


@dataclass(frozen=True)
class Observation:
    """A list some run fetched: when (the log's time), its date and fingerprint."""

    at: datetime.datetime
    on: datetime.date
    fingerprint: str

    @property
    def instant(self) -> str:
        """`at` as records carry it: ISO 8601, UTC, milliseconds."""
        return self.at.isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ClosedSegment:
    """A closed segment as a table lists it: whose closes, where, which openings."""

    closed: int
    name: str
    count: int
    opened: tuple[int, ...]


@dataclass(frozen=True)
class TableHeader:
    """What a table says about itself and the log."""

    log: str
    sequence: int
    fingerprint: str
    member_count: int
    observations: dict[int, Observation]
    closed: tuple[ClosedSegment, ...]
    pruned_through: int

    def to_json(self) -> dict[str, Any]:
        """The header as stored."""
        return {
            "log": self.log,
            "sequence": self.sequence,
            "fingerprint": self.fingerprint,
            "member_count": self.member_count,
            "observations": [
                [sequence, seen.instant, seen.on.isoformat(), seen.fingerprint]
                for sequence, seen in sorted(self.observations.items())
            ],
            "closed": [
                [segment.closed, segment.name, segment.count, list(segment.opened)]
                for segment in self.closed
            ],
            "pruned_through": self.pruned_through,
        }

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> TableHeader:
        """Read a stored header; LogFileError if it is not one."""
        try:
            return cls(
                log=str(fields["log"]),
                sequence=int(fields["sequence"]),
                fingerprint=str(fields["fingerprint"]),
                member_count=int(fields["member_count"]),
                observations={
                    int(sequence): Observation(
                        datetime.datetime.fromisoformat(at),
                        datetime.date.fromisoformat(on),
                        str(fingerprint),
                    )
                    for sequence, at, on, fingerprint in fields["observations"]
                },
                closed=tuple(
                    ClosedSegment(int(closed), str(name), int(count), tuple(opened))
                    for closed, name, count, opened in fields["closed"]
                ),
                pruned_through=int(fields["pruned_through"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            msg = "has a corrupt header"
            raise LogFileError(msg) from exc


@dataclass
class LogView:
    """The latest table after this run's observation, and what it needs to send."""

    header: TableHeader
    table: Path | None
    """The table on local disk; None when nothing is to be merged or sent from it."""
    segments: dict[int, Path] = field(default_factory=dict)
    """Closed segments on local disk, by closing observation."""
    joined: int = 0
    left: int = 0
    """What this run's observation opened and closed (0 when it changed nothing)."""
    delta: list[tuple[Bucket, Bucket]] | None = None
    """Per bucket, the runs this run's observation opened and closed, kept from the
    merge: all that a pipeline one table behind is sent, without reading files."""

    @property
    def local_table(self) -> Path:
        """The table's file on local disk (a view with nothing to send has none)."""
        if self.table is None:
            msg = f"table {self.sequence} was not brought to local disk"
            raise RuntimeError(msg)
        return self.table

    @property
    def sequence(self) -> int:
        """The latest table's position in the log."""
        return self.header.sequence

    def observation(self, sequence: int) -> Observation:
        """The observation at `sequence` (one that opened or closed a stint)."""
        return self.header.observations[sequence]

    def buckets(self, since: int) -> Iterator[tuple[Bucket, list[ClosedBucket]]]:
        """Each bucket of the table, with those of the closed segments after `since`.

        Every file was checked when it came to local disk.
        """
        if self.delta is not None and since == self.sequence - 1:
            for opened, closed_runs in self.delta:
                yield opened, [ClosedBucket(self.sequence, closed_runs)]
            return
        later = sorted(
            (closed for closed in self.segments if closed > since), reverse=True
        )
        with ExitStack() as files:
            table = LogFileReader(
                files.enter_context(self.local_table.open("rb")), TABLE_MAGIC
            )
            segments = [
                (
                    closed,
                    LogFileReader(
                        files.enter_context(self.segments[closed].open("rb")),
                        CLOSED_MAGIC,
                    ).buckets(),
                )
                for closed in later
            ]
            for runs in table.buckets():
                yield runs, [ClosedBucket(closed, next(it)) for closed, it in segments]


def empty_buckets() -> Iterator[tuple[Bucket, list[ClosedBucket]]]:
    """The buckets of a log with no table yet: nobody open, nothing closed."""
    for _ in range(BUCKETS):
        yield [], []
