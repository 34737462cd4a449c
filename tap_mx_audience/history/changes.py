"""What a pipeline is sent: every stint the log changed after its watermark.

A stint changed after watermark `w` if an observation later than `w` opened
it (an open run of the table, or a run of a closed segment, with `opened > w`)
or closed it (every run of a closed segment later than `w`). Sent again, a
stint carries the key it had (its opening observation's time), so upsert
absorbs what a target already holds.

Both are worked out per bucket from the latest table's bucket and the
buckets of the closed segments later than `w`, newest first, and handed out
in runs of ids that share a `Stint`: every record of a run is the same but
for its member id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tap_mx_audience.history.logfile import Bucket, Run


@dataclass(frozen=True)
class Stint:
    """Which observations opened and closed a group of stints (None: still open)."""

    opened: int
    closed: int | None


@dataclass(frozen=True)
class ClosedBucket:
    """One bucket of the closed segment of observation `closed`."""

    closed: int
    runs: Bucket


def changed_stints(
    table: Bucket, closed_newest_first: Sequence[ClosedBucket], since: int
) -> Iterator[tuple[Stint, Run]]:
    """Every stint of the bucket opened or closed after observation `since`.

    `closed_newest_first` holds only segments later than `since`.
    """
    for run in table:
        if run.opened > since:
            yield Stint(run.opened, None), run
    for segment in closed_newest_first:
        for run in segment.runs:
            yield Stint(run.opened, segment.closed), run


def changed_members(
    table: Bucket, closed_newest_first: Sequence[ClosedBucket], since: int
) -> Iterator[tuple[Stint, Run]]:
    """Each member of the bucket whose latest stint changed after `since`, once.

    A member whose stint opened after `since` is current; one whose stint
    closed after `since` and who has no open stint is not, and its latest
    closed stint says since when. (A member with an open stint that opened
    at or before `since` cannot have a stint closed after it.)
    """
    seen: set[bytes] = set()
    for run in table:
        if run.opened > since:
            if closed_newest_first:
                seen.update(run.ids())
            yield Stint(run.opened, None), run
    for segment in closed_newest_first:
        for run in segment.runs:
            ids = [member for member in run.ids() if member not in seen]
            if len(ids) == run.count:
                yield Stint(run.opened, segment.closed), run
            elif ids:
                yield Stint(run.opened, segment.closed), Run.of(run.opened, ids)
            seen.update(ids)
