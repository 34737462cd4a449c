"""The bucketed list and the diff against snapshot history, checked against sets.

The history is written to and read back from a real (local) snapshot store,
as the tap does; the model is plain Python sets over whole lists.
"""

from __future__ import annotations

import datetime
import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.history.buckets import BUCKETS, SPILL_BYTES, MemberBuckets
from tap_mx_audience.history.diff import ChangeBatch, diff
from tap_mx_audience.history.store import SnapshotStore
from tap_mx_audience.lists.summary import MemberFingerprint

AUDIENCE = AudienceRef("aud_0001", "INST_DEMO")
DAY = datetime.date(2026, 11, 1)
hostile_ids = st.text(
    alphabet='ab12\n\\"é🦀 ',  # "1" and "2" after a backslash mimic the escapes
    min_size=1,
    max_size=6,
)


def batches_of(ids: list[str], size: int = 3) -> Iterator[list[str]]:
    """Ids in batches, as `ListBody.member_batches()` hands them out."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def fingerprint_of(ids: list[str]) -> str:
    fingerprint = MemberFingerprint()
    fingerprint.add([member.encode() for member in ids])
    return fingerprint.digest


def run_diff(
    store: SnapshotStore, history: list[list[str]], served: list[str]
) -> tuple[list[str], list[tuple[str, datetime.date]]]:
    """Write each history list as a snapshot, then diff the served list against them."""
    for day, ids in enumerate(history):
        with MemberBuckets(batches_of(ids)) as bucketed:
            store.write(
                AUDIENCE, bucketed, bucketed.fingerprint, DAY + datetime.timedelta(day)
            )
    refs = store.snapshots(AUDIENCE)[-len(history) :] if history else []
    served_on = DAY + datetime.timedelta(len(history))
    with ExitStack() as stack, MemberBuckets(batches_of(served)) as bucketed:
        readers = [stack.enter_context(store.open(AUDIENCE, ref)) for ref in refs]
        batches: list[ChangeBatch] = list(diff(bucketed, served_on, readers))
    joined = [member for batch in batches for member in batch.joined]
    left = [change for batch in batches for change in batch.left]
    return joined, left


def model(
    history: list[list[str]], served: list[str]
) -> tuple[set[str], dict[str, datetime.date]]:
    """The expected changes, from whole-list sets."""
    served_set = set(served)
    if not history:
        return served_set, {}
    sets = [set(ids) for ids in history]
    joined = served_set - sets[0].intersection(*sets[1:])
    dates = [DAY + datetime.timedelta(day) for day in range(1, len(history) + 1)]
    left = {}
    for member in sets[0].union(*sets[1:]) - served_set:
        last = max(index for index, ids in enumerate(sets) if member in ids)
        left[member] = dates[last]
    return joined, left


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pool=st.lists(hostile_ids, min_size=1, max_size=12, unique=True),
    data=st.data(),
)
def test_diff_matches_the_set_model(
    tmp_path_factory: pytest.TempPathFactory, pool: list[str], data: st.DataObject
) -> None:
    lists = st.lists(st.sampled_from(pool), max_size=15)  # duplicates and empties
    history = data.draw(st.lists(lists, max_size=4), label="history")
    served = data.draw(lists, label="served")
    store = SnapshotStore(str(tmp_path_factory.mktemp("store")))

    joined, left = run_diff(store, history, served)

    expected_joined, expected_left = model(history, served)
    assert sorted(joined) == sorted(expected_joined)
    assert len(joined) == len(set(joined))
    assert dict(left) == expected_left
    assert len(left) == len(expected_left)


def test_a_member_who_left_and_rejoined_is_a_join_and_leaves_are_dated(
    tmp_path: Path,
) -> None:
    store = SnapshotStore(str(tmp_path))
    history = [["a", "b", "c"], ["a", "c"], ["a", "b", "c", "d"]]

    joined, left = run_diff(store, history, ["b", "e"])

    assert sorted(joined) == ["b", "e"]
    assert sorted(left) == [
        ("a", DAY + datetime.timedelta(3)),
        ("c", DAY + datetime.timedelta(3)),
        ("d", DAY + datetime.timedelta(3)),
    ]


def test_first_delivery_joins_every_member_once(tmp_path: Path) -> None:
    joined, left = run_diff(SnapshotStore(str(tmp_path)), [], ["x", "x", "y\nz"])

    assert sorted(joined) == ["x", "y\nz"]
    assert left == []


@given(
    ids=st.lists(st.text(min_size=1, max_size=40), max_size=60),
    spill_bytes=st.sampled_from([0, 50, SPILL_BYTES]),  # files, some, memory only
)
@settings(max_examples=50, deadline=None)
def test_bucketed_list_keeps_the_multiset_and_its_fingerprint(
    ids: list[str], spill_bytes: int
) -> None:
    with MemberBuckets(batches_of(ids, 7), spill_bytes=spill_bytes) as bucketed:
        buckets = list(bucketed.sorted_buckets())

    assert [index for index, _ in buckets] == list(range(BUCKETS))
    assert all(bucket == sorted(bucket) for _, bucket in buckets)
    assert Counter(itertools.chain.from_iterable(b for _, b in buckets)) == Counter(ids)
    assert bucketed.fingerprint == fingerprint_of(ids)
    assert bucketed.count == len(ids)


def test_bucket_files_are_removed_on_close_and_on_failure(tmp_path: Path) -> None:
    with MemberBuckets(batches_of(["a", "b"]), str(tmp_path), 0) as bucketed:
        assert len(list(next(tmp_path.iterdir()).iterdir())) == 2
        assert bucketed.count == 2
    assert list(tmp_path.iterdir()) == []

    def failing() -> Iterator[list[str]]:
        yield ["a"]
        message = "download cut"
        raise OSError(message)

    with pytest.raises(OSError, match="download cut"):
        MemberBuckets(failing(), str(tmp_path), 0)
    assert list(tmp_path.iterdir()) == []
