"""The pure rules of the log, as tables: merging an observation, and what is sent.

In-process and in milliseconds; the CLI tests in test_changes_mode.py prove
the whole.
"""

from __future__ import annotations

import pytest

from tap_mx_audience.history.changes import (
    ClosedBucket,
    Stint,
    changed_members,
    changed_stints,
)
from tap_mx_audience.history.logfile import Bucket, Run
from tap_mx_audience.history.merge import merge_bucket


def bucket(*runs: tuple[int, str]) -> Bucket:
    """Runs from (opened, "a b c") pairs."""
    return [Run.of(opened, [m.encode() for m in ids.split()]) for opened, ids in runs]


def as_sets(runs: Bucket) -> dict[int, set[str]]:
    return {run.opened: {m.decode() for m in run.ids()} for run in runs}


@pytest.mark.parametrize(
    ("latest", "served", "table", "closed"),
    [
        pytest.param([], "a b", {3: {"a", "b"}}, {}, id="first list: all open at 3"),
        pytest.param([(1, "a b")], "a b", {1: {"a", "b"}}, {}, id="unchanged"),
        pytest.param(
            [(1, "a b")], "b c", {1: {"b"}, 3: {"c"}}, {1: {"a"}}, id="a left, c joined"
        ),
        pytest.param(
            [(1, "a"), (2, "b")], "a", {1: {"a"}}, {2: {"b"}}, id="a run emptied"
        ),
        pytest.param([(1, "a")], "a a b b", {1: {"a"}, 3: {"b"}}, {}, id="repeats"),
        pytest.param([(1, "a b")], "", {}, {1: {"a", "b"}}, id="audience emptied"),
    ],
)
def test_merge_opens_and_closes_stints(
    latest: list[tuple[int, str]],
    served: str,
    table: dict[int, set[str]],
    closed: dict[int, set[str]],
) -> None:
    merged = merge_bucket(bucket(*latest), [m.encode() for m in served.split()], 3)

    assert as_sets(merged.table) == table
    assert as_sets(merged.closed) == closed
    assert merged.joined == len(table.get(3, set()))
    assert merged.left == sum(map(len, closed.values()))


def test_merge_keeps_untouched_runs_as_they_were() -> None:
    latest = bucket((1, "a b"), (2, "c"))

    merged = merge_bucket(latest, [b"a", b"b"], 3)

    assert merged.table[0] is latest[0]


# A log after observations 1..4, one bucket: x and y joined at 1; x left at 2;
# x came back at 3 and left again at 4; z joined at 4; y stayed throughout.
TABLE = bucket((1, "y"), (4, "z"))
CLOSED = {2: bucket((1, "x")), 4: bucket((3, "x"))}


def closed_after(since: int) -> list[ClosedBucket]:
    return [
        ClosedBucket(seq, runs)
        for seq, runs in sorted(CLOSED.items(), reverse=True)
        if seq > since
    ]


def flat(groups: list[tuple[Stint, Run]]) -> set[tuple[str, int, int | None]]:
    return {
        (m.decode(), stint.opened, stint.closed)
        for stint, run in groups
        for m in run.ids()
    }


@pytest.mark.parametrize(
    ("since", "stints"),
    [
        pytest.param(
            0,
            {("y", 1, None), ("z", 4, None), ("x", 1, 2), ("x", 3, 4)},
            id="no watermark: every stint the log holds",
        ),
        pytest.param(2, {("z", 4, None), ("x", 3, 4)}, id="after 2"),
        pytest.param(3, {("z", 4, None), ("x", 3, 4)}, id="after 3: x closed at 4"),
        pytest.param(4, set(), id="up to date"),
    ],
)
def test_stints_changed_after_a_watermark(
    since: int, stints: set[tuple[str, int, int | None]]
) -> None:
    assert flat(list(changed_stints(TABLE, closed_after(since), since))) == stints


@pytest.mark.parametrize(
    ("since", "members"),
    [
        pytest.param(
            0,
            {("y", 1, None), ("z", 4, None), ("x", 3, 4)},
            id="no watermark: each member's latest stint once",
        ),
        pytest.param(1, {("z", 4, None), ("x", 3, 4)}, id="after 1"),
        pytest.param(4, set(), id="up to date"),
    ],
)
def test_members_whose_latest_stint_changed(
    since: int, members: set[tuple[str, int, int | None]]
) -> None:
    groups = list(changed_members(TABLE, closed_after(since), since))

    assert flat(groups) == members
    ids = [m for _, run in groups for m in run.ids()]
    assert len(ids) == len(set(ids))


def test_a_member_back_after_leaving_is_sent_as_current_once() -> None:
    table = bucket((5, "x"))
    closed = [ClosedBucket(4, bucket((2, "x")))]

    assert flat(list(changed_members(table, closed, 3))) == {("x", 5, None)}
