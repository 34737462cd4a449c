"""Who joined and who left: the served list against the recent snapshots.

A run whose STATE never reached the target may still have had some of its
records applied, so the served list S is diffed against every snapshot that
may describe the target: the confirmed one C and each later one U1..Uk.
A member the target may lack is in S but not in all of them (a join); a
member it may hold wrongly is in one of them and not in S (a leave). Upsert
makes the records that were not needed harmless.

All sides are hash-bucketed the same way, so the diff walks them in lockstep
one bucket at a time: memory is a bucket of each side, never a whole list.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from tap_mx_audience.history.buckets import MemberBuckets


class BucketSource(Protocol):
    """A list read bucket by bucket, with the `updated_on` it was served with."""

    @property
    def updated_on(self) -> datetime.date:
        """The list's date: the `left_on` of who left in the list after it."""

    def buckets(self) -> Iterator[tuple[int, list[str]]]:
        """Every bucket, 0 to 255, in order."""


@dataclass(frozen=True)
class ChangeBatch:
    """The joins and leaves found in one bucket, each member once."""

    joined: list[str]
    left: list[tuple[str, datetime.date]]


def diff(
    served: MemberBuckets,
    served_updated_on: datetime.date,
    history: Sequence[BucketSource],
) -> Iterator[ChangeBatch]:
    """The changes from the history (oldest first) to the served list, by bucket.

    Joins: served members not in every history list (with no history, every
    served member). Leaves: members of any history list no longer served,
    each dated by the list after the last history list that held them.
    """
    later_dates = [source.updated_on for source in history[1:]]
    later_dates.append(served_updated_on)
    sides = zip(
        served.buckets(),
        *(source.buckets() for source in history),
        strict=True,
    )
    for (index, served_ids), *past in sides:
        if any(past_index != index for past_index, _ in past):
            msg = f"history is out of step with the served list at bucket {index}"
            raise ValueError(msg)
        batch = _bucket_changes(
            set(served_ids), [set(ids) for _, ids in past], later_dates
        )
        if batch.joined or batch.left:
            yield batch


def _bucket_changes(
    served: set[str], past: list[set[str]], later_dates: list[datetime.date]
) -> ChangeBatch:
    if not past:
        return ChangeBatch(sorted(served), [])
    joined = served - past[0].intersection(*past[1:])
    gone = past[0].union(*past[1:]) - served
    left: list[tuple[str, datetime.date]] = []
    for held, left_on in zip(reversed(past), reversed(later_dates), strict=True):
        found = gone & held
        left.extend((member, left_on) for member in found)
        gone -= found
    left.sort()
    return ChangeBatch(sorted(joined), left)
