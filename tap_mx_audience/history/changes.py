"""Changes mode: remember each delivered member set, send only who joined or left.

Before the first record of a delivery, the served list's snapshot is written
to the store; the changes are the served list against the snapshot the state
confirms and every snapshot written after it (runs whose STATE never reached
Meltano, whose records the target may hold in part). They are worked out in
full, into a temporary file, before anything is sent, so a missing or corrupt
snapshot fails the audience with nothing sent.
"""

from __future__ import annotations

import datetime
import json
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO

from tap_mx_audience.api import FetchedAudience
from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.history.buckets import BUCKETS, MemberBuckets
from tap_mx_audience.history.diff import BucketSource, diff
from tap_mx_audience.history.store import SnapshotRef, SnapshotStore
from tap_mx_audience.history.storecalls import SnapshotError
from tap_mx_audience.scratch import scratch_directory


@dataclass(frozen=True)
class History:
    """What the store holds for one audience, against what the state confirms."""

    confirmed: SnapshotRef | None
    unconfirmed: list[SnapshotRef]

    @classmethod
    def read(
        cls, store: SnapshotStore, audience: AudienceRef, confirmed_name: str | None
    ) -> History:
        """List the audience's snapshots against the one its state confirms.

        A state confirming a snapshot that is not there cannot be diffed
        against: the audience fails, with the way out.
        """
        snapshots = store.snapshots(audience)
        if confirmed_name is None:
            return cls(None, snapshots)
        confirmed = next((s for s in snapshots if s.name == confirmed_name), None)
        if confirmed is None:
            msg = (
                f"the snapshot its state confirms ({confirmed_name}) is missing "
                f"from {store.label}; {START_OVER}"
            )
            raise SnapshotError(msg)
        return cls(confirmed, [s for s in snapshots if s.sequence > confirmed.sequence])

    @property
    def empty(self) -> bool:
        """Nothing was ever delivered or attempted: every member is a join."""
        return self.confirmed is None and not self.unconfirmed


START_OVER = (
    "to start over, clear this audience's state (meltano state clear, or drop "
    "its partition) and delete its rows in the target: every member is then "
    "sent again as joined"
)


class _NothingDelivered:
    """The confirmed list when there is none: nobody is known to the target."""

    updated_on = datetime.date.min

    def buckets(self) -> Iterator[tuple[int, list[str]]]:
        return ((index, []) for index in range(BUCKETS))


class ChangeSet:
    """Who joined (`left_on` None) and who left (with `left_on`), on local disk."""

    def __init__(self, file: IO[bytes], joined: int, left: int) -> None:
        """Hold the worked-out changes; `entries` reads them back."""
        self._file = file
        self.joined = joined
        self.left = left

    def entries(self) -> Iterator[tuple[str, datetime.date | None]]:
        """Each change: the member, and the date they left (None: joined)."""
        self._file.seek(0)
        for line in self._file:
            member, left_on = json.loads(line)
            yield (
                member,
                None if left_on is None else datetime.date.fromisoformat(left_on),
            )

    def close(self) -> None:
        """Remove the temporary file."""
        self._file.close()


def record_snapshot(
    store: SnapshotStore, fetched: FetchedAudience, bucketed: MemberBuckets
) -> SnapshotRef:
    """Write the served list's snapshot to the store (before any of its records)."""
    return store.write(
        fetched.audience, bucketed, fetched.summary.fingerprint, fetched.updated_on
    )


def work_out_changes(
    store: SnapshotStore,
    fetched: FetchedAudience,
    history: History,
    bucketed: MemberBuckets,
) -> ChangeSet:
    """Diff the served list against the history, into a temporary file."""
    changes = tempfile.TemporaryFile(prefix="changes-", dir=scratch_directory())  # noqa: SIM115 - owned by the ChangeSet
    joined = left = 0
    try:
        with ExitStack() as readers:
            sources: list[BucketSource] = [
                readers.enter_context(store.open(fetched.audience, history.confirmed))
                if history.confirmed is not None
                else _NothingDelivered()
            ]
            sources += [
                readers.enter_context(store.open(fetched.audience, snapshot))
                for snapshot in history.unconfirmed
            ]
            for batch in diff(bucketed, fetched.updated_on, sources):
                lines = [json.dumps([member, None]) for member in batch.joined]
                lines += [
                    json.dumps([member, left_on.isoformat()])
                    for member, left_on in batch.left
                ]
                changes.write(("\n".join(lines) + "\n").encode())
                joined += len(batch.joined)
                left += len(batch.left)
    except SnapshotError as exc:
        changes.close()
        raise SnapshotError(f"{exc}; {START_OVER}") from None
    except BaseException:
        changes.close()
        raise
    return ChangeSet(changes, joined, left)
