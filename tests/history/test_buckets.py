"""A served list spread over hash buckets keeps every id, in memory or on disk."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_mx_audience.history.buckets import (
    BUCKETS,
    SPILL_BYTES,
    MemberBuckets,
    bucket_of,
)

hostile_ids = st.text(
    alphabet='ab12\n\\"é🦀 /',  # "1" and "2" after a backslash mimic the escapes
    min_size=1,
    max_size=6,
)


def batches_of(ids: list[str], size: int = 3) -> Iterator[list[bytes]]:
    """UTF-8 ids in batches, as `ListBody.member_id_batches()` hands them out."""
    for start in range(0, len(ids), size):
        yield [member.encode() for member in ids[start : start + size]]


@given(
    ids=st.lists(hostile_ids, max_size=60),
    spill_bytes=st.sampled_from([0, 50, SPILL_BYTES]),  # files, some, memory only
)
@settings(max_examples=80, deadline=None)
def test_buckets_keep_the_multiset_each_id_in_its_bucket(
    ids: list[str], spill_bytes: int
) -> None:
    with MemberBuckets(batches_of(ids, 7), spill_bytes=spill_bytes) as bucketed:
        buckets = list(bucketed.buckets())

    assert len(buckets) == BUCKETS
    assert all(bucket_of(m) == index for index, b in enumerate(buckets) for m in b)
    assert Counter(m.decode() for m in itertools.chain.from_iterable(buckets)) == (
        Counter(ids)
    )


def test_bucket_files_are_removed_on_close_and_on_failure(tmp_path: Path) -> None:
    with MemberBuckets(batches_of(["a", "b"]), str(tmp_path), 0):
        assert len(list(next(tmp_path.iterdir()).iterdir())) == BUCKETS
    assert list(tmp_path.iterdir()) == []

    def failing() -> Iterator[list[bytes]]:
        yield [b"a"]
        message = "download cut"
        raise OSError(message)

    with pytest.raises(OSError, match="download cut"):
        MemberBuckets(failing(), str(tmp_path), 0)
    assert list(tmp_path.iterdir()) == []
