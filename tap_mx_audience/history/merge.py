"""A new observation against the latest table, one bucket at a time.

Stints of members no longer served close; members served without an open
stint open one. Everything else is kept as it was, runs included, so an
unchanged run is written back without being encoded again.
"""

from __future__ import annotations

from dataclasses import dataclass

from tap_mx_audience.history.logfile import Bucket, Run


@dataclass(frozen=True)
class BucketMerge:
    """One bucket after an observation: the open stints, and those it closed."""

    table: Bucket
    closed: Bucket
    joined: int
    left: int


def merge_bucket(latest: Bucket, served: list[bytes], sequence: int) -> BucketMerge:
    """Open stints of `latest` against the served ids, observed as `sequence`.

    `served` may hold an id twice (MX may repeat one): a member has one
    stint whatever the repeats.
    """
    served_set = set(served)
    if not latest:  # the log's first table, or a bucket nobody was in
        return BucketMerge(
            [Run.of(sequence, list(served_set))] if served_set else [],
            [],
            len(served_set),
            0,
        )
    decoded = [(run, run.ids()) for run in latest]
    open_set: set[bytes] = set().union(*(ids for _, ids in decoded))
    # One pass over both sides; the few who joined or left are sorted out after.
    changed = served_set.symmetric_difference(open_set)
    joined = changed.intersection(served_set)
    left = changed.difference(joined)
    table: Bucket = []
    closed: Bucket = []
    for run, ids in decoded:
        if not left or left.isdisjoint(ids):
            table.append(run)
            continue
        kept = [member for member in ids if member not in left]
        closed.append(Run.of(run.opened, list(left.intersection(ids))))
        if kept:
            table.append(run.with_ids(kept))
    if joined:
        table.append(Run.of(sequence, list(joined)))
    return BucketMerge(table, closed, len(joined), len(left))
